"""A TCP proxy on loopback whose network a test can cut: the connections stay open but nothing
moves either way (a pulled cable, a dead Wi-Fi: no FIN, no RST), and new connections are accepted
but not carried through until the network comes back. Bytes sent meanwhile wait in the kernel's
buffers and flow again on `restore()`, as TCP retransmission would deliver them.

    with NetCut(target_port) as net:   # browse http://127.0.0.1:{net.port}/
        net.cut(); ...; net.restore()
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType


class NetCut:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> NetCut:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.flowing.clear()

    def restore(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.stopped.set()
        self.flowing.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self.threads:
            thread.join(timeout=2)

    # --- internals -----------------------------------------------------------------------------

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _keep(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)

    def _accept_loop(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._keep(client)
            self._spawn(self._carry, client)

    def _carry(self, client: socket.socket) -> None:
        self.flowing.wait()  # a connection opened while cut waits for the network
        if self.stopped.is_set():
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._keep(upstream)
        self._spawn(self._pump, client, upstream)
        self._spawn(self._pump, upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self.stopped.is_set():
            if not self.flowing.wait(timeout=0.1):
                continue  # cut: leave the bytes where they are
            try:
                readable, _, _ = select.select([src], [], [], 0.1)
                if not readable or not self.flowing.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
