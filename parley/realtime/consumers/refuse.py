"""Any WebSocket path Parley does not serve: refused at the handshake (HTTP 403), not a 500."""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncWebsocketConsumer

log = logging.getLogger("parley.realtime")


class RefuseConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "parley.hub-only"

    async def connect(self) -> None:
        log.info("ws refused: no route for path=%r", self.scope.get("path", "")[:200])
        await self.close()
