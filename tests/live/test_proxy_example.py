"""The proxy's share of the limits, as docs/deploy.md shows it: nginx runs with exactly the
documented lines in front of two bin/serve processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.http import signup
from tests.support.server import ROOT, Databases, LiveServer, free_port, make_server

pytestmark = pytest.mark.live

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def documented_lines() -> dict[str, str]:
    """The ``# in the ... block`` sections of the nginx example in docs/deploy.md."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"```nginx\n(# in the http block\n.*?)```", text, re.S)
    assert block, "docs/deploy.md lost its nginx example for the proxy's limits"
    sections: dict[str, list[str]] = {}
    current = ""
    for line in block.group(1).splitlines():
        heading = re.fullmatch(r"# in (?:the )?(.+?)(?: block)?", line.strip())
        if heading:
            current = heading.group(1)
            sections[current] = []
        else:
            sections[current].append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


@contextlib.contextmanager
def nginx(workdir: Path, backends: list[LiveServer]) -> Iterator[int]:
    lines = documented_lines()
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir()
    upstream = "\n".join(f"server 127.0.0.1:{b.port} max_fails=0;" for b in backends)
    conf = f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  {lines["http"]}
  upstream parley {{ {upstream} }}
  server {{
    listen 127.0.0.1:{port};
    {lines["server"]}
    location / {{
      proxy_pass http://parley;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      {lines["location /"]}
    }}
  }}
}}
"""
    (prefix / "nginx.conf").write_text(conf)
    with (prefix / "stderr.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(prefix / 'stderr.log').read_text()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not answer within 10 s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_documented_nginx_lines_cap_addresses_and_route_around_a_draining_process(
    live_databases: Databases, workdir: Path
) -> None:
    assert set(documented_lines()) == {"http", "server", "location /"}
    database_url = live_databases.sqlite()
    first = make_server(live_databases, workdir, database_url=database_url, PARLEY_DRAIN_MS="4000").start()
    second = make_server(live_databases, workdir, database_url=database_url).start()
    try:
        users = [signup(first.base_url, name) for name in ("ann", "bob")]
        with nginx(workdir, [first, second]) as port:
            base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/"

            async def per_address_cap() -> None:
                def connect(i: int) -> Any:
                    cookie = users[i % 2].cookie_header()
                    return websockets.connect(ws_url, origin=base, additional_headers={"Cookie": cookie})

                sockets = [await connect(i) for i in range(50)]
                try:
                    with pytest.raises(InvalidStatus) as refused:
                        await connect(50)
                    assert refused.value.response.status_code == 503
                    await sockets.pop().close()
                    await asyncio.sleep(0.2)
                    async with connect(50) as ws:
                        await ws.send(json.dumps({"type": "ping", "t": 1}))
                        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong", "t": 1}
                finally:
                    for ws in sockets:
                        await ws.close()

            asyncio.run(per_address_cap())

            async def drain_through_the_proxy() -> list[int]:
                cookie = users[0].cookie_header()
                held = await websockets.connect(  # straight to the first process: its drain lasts 4 s
                    first.ws_base + "/ws/", origin=first.base_url, additional_headers={"Cookie": cookie}
                )
                assert first.proc is not None
                first.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                assert await asyncio.to_thread(_status, first.base_url + "/healthz") == 503
                statuses = [await asyncio.to_thread(_status, base + "/healthz") for _ in range(20)]
                await held.close()
                return statuses

            statuses = asyncio.run(drain_through_the_proxy())
            assert statuses == [200] * 20, statuses  # the refusals went to the other process
    finally:
        first.stop()
        second.stop()
