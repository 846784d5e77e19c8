"""The uvicorn internals parley.server.uvicorn_http relies on, by name: an upgrade that renames
one fails here, in a second, instead of as a hung socket in a live test."""

from __future__ import annotations

import asyncio
import logging

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from parley.server.uvicorn_http import ParleyHttpProtocol

OVERRIDDEN = [
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_message_complete",
    "on_response_complete",
    "handle_websocket_upgrade",
]


async def _app(scope: object, receive: object, send: object) -> None:
    return None


def test_the_httptools_protocol_still_has_what_parley_uses() -> None:
    for name in OVERRIDDEN:
        assert callable(getattr(HttpToolsProtocol, name, None)), name
        assert getattr(ParleyHttpProtocol, name) is not getattr(HttpToolsProtocol, name), name
    config = Config(app=_app, lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        state = ServerState()
        protocol = ParleyHttpProtocol(config, state, {}, _loop=loop)
        for attr in ("app", "cycle", "transport", "connections", "server_state", "loop", "pipeline", "scope"):
            assert hasattr(protocol, attr), attr
        assert protocol.connections is state.connections
        assert protocol.served_app is protocol.app
        cycle = RequestResponseCycle(
            scope={"method": "GET"},  # type: ignore[typeddict-item]
            transport=None,  # type: ignore[arg-type]
            flow=None,  # type: ignore[arg-type]
            logger=logging.getLogger("test"),
            access_logger=logging.getLogger("test"),
            access_log=False,
            default_headers=[],
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=True,
            on_response=lambda: None,
        )
        assert (cycle.more_body, cycle.response_started, cycle.response_complete) == (True, False, False)
    finally:
        loop.close()
