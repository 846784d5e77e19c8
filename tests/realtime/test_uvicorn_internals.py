"""parley.server.uvicorn_ws reads uvicorn's private protocol state; this test names what it reads.

uvicorn is pinned to the tested range in requirements.txt. When a new uvicorn renames or drops an
attribute the subclass relies on, this test fails with the attribute's name (and the outbox would
fall back to ASGI ``send`` at run time rather than break the fan-out, see test_outbox).
"""

from __future__ import annotations

import ast
import asyncio
import inspect

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.protocol import State

from parley.server import uvicorn_ws
from parley.server.uvicorn_ws import ParleyWebSocketProtocol


def _attributes_read_on_self() -> set[str]:
    tree = ast.parse(inspect.getsource(uvicorn_ws))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ParleyWebSocketProtocol"]
    own = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    names = {
        node.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }
    return names - own


async def _noop_app(scope: object, receive: object, send: object) -> None:
    return None


def test_every_private_attribute_the_subclass_reads_exists_in_this_uvicorn() -> None:
    read = _attributes_read_on_self()
    assert {"close_sent", "conn", "transport", "writable"} <= read  # the scan itself works
    config = uvicorn.Config(app=_noop_app, ws=ParleyWebSocketProtocol, lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        proto = ParleyWebSocketProtocol(config, ServerState(), {}, _loop=loop)
        missing = sorted(name for name in read if not hasattr(proto, name))
        assert not missing, f"uvicorn {uvicorn.__version__} has no {missing}: update parley/server/uvicorn_ws.py"
        assert isinstance(proto.writable, asyncio.Event)
        assert proto.conn.state is State.CONNECTING  # websockets' sans-io state, compared to State.OPEN
    finally:
        loop.close()


def test_the_hook_the_subclass_overrides_is_still_uvicorns() -> None:
    assert "handle_connect" in vars(WebSocketsSansIOProtocol), "uvicorn no longer calls handle_connect"
    assert "scope" not in vars(WebSocketsSansIOProtocol)  # set per connection in handle_connect
    # the keepalive: the settings replace the config's values, and a missed pong aborts
    assert "keepalive_timeout" in vars(WebSocketsSansIOProtocol), "uvicorn no longer calls keepalive_timeout"
    assert "ping_interval" in inspect.getsource(WebSocketsSansIOProtocol.start_keepalive)
    assert "ping_timeout" in inspect.getsource(WebSocketsSansIOProtocol.send_keepalive_ping)


def test_websockets_per_socket_lines_are_quiet_and_its_warnings_are_not() -> None:
    """websockets logs "connection open" through the logger it was given; the subclass gives it
    ``uvicorn.error.websockets`` (INFO off by default), so those lines cost no record, while its
    warnings still reach uvicorn's error log."""
    import logging

    config = uvicorn.Config(app=_noop_app, ws=ParleyWebSocketProtocol, lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        proto = ParleyWebSocketProtocol(config, ServerState(), {}, _loop=loop)
        assert proto.conn.logger is uvicorn_ws.SOCKET_LINES
        assert not proto.conn.logger.isEnabledFor(logging.INFO)
        seen: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
        error_log = logging.getLogger("uvicorn.error")
        error_log.addHandler(handler)
        try:
            proto.conn.logger.info("connection open")
            proto.conn.logger.warning("a protocol warning")
        finally:
            error_log.removeHandler(handler)
        assert seen == ["a protocol warning"]
    finally:
        loop.close()
