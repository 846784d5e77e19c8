"""Frames built once for many sockets are the bytes a WebSocket library would send."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from parley.realtime.wire import Prepared, text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_text_frame_matches_a_websocket_library(size: int) -> None:
    text = "x" * size
    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def test_text_frame_length_counts_utf8_bytes() -> None:
    text = "héllo 👋" * 30  # 150 characters, 330 bytes: the 2-byte length form
    frame = text_frame(text)
    assert frame == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    assert frame[1] == 126 and int.from_bytes(frame[2:4]) == len(text.encode())


def test_prepared_builds_its_frame_once() -> None:
    prepared = Prepared('{"type":"event"}')
    assert prepared.message == {"type": "websocket.send", "text": '{"type":"event"}'}
    assert prepared.frame is prepared.frame
