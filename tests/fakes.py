"""Stand-ins for what cannot be made cheaply in a unit test (no I/O)."""

from __future__ import annotations

from typing import Any


class RecordingChannel:
    """An ``RTCDataChannel``'s surface for a send queue: open, ``sent`` records each send
    (text must be encodable, as aiortc's would be), ``bufferedAmount`` as set."""

    readyState = "open"
    bufferedAmountLowThreshold = 0

    def __init__(self, buffered: int = 0) -> None:
        self.bufferedAmount = buffered
        self.sent: list[Any] = []

    def on(self, *args: Any) -> None:
        pass

    def send(self, data: Any) -> None:
        if isinstance(data, str):
            data.encode("utf-8")
        self.sent.append(data)
