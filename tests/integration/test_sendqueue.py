"""The send queue: byte-measured, coalescing, never wedged, and a last word that gets through."""

from __future__ import annotations

import asyncio
from typing import Any

from peerpyrtc._rtc.sendqueue import SendQueue


def test_a_last_word_on_an_idle_queue_is_sent_once() -> None:
    """Mutant: ``and`` -> ``or`` in ``send_last`` (an empty queue sends the notice twice)."""
    from fakes import RecordingChannel
    from peerpyrtc._rtc.sendqueue import SendQueue

    async def run() -> None:
        channel = RecordingChannel()
        queue = SendQueue(1 << 20)
        queue.attach(channel)  # type: ignore[arg-type]
        queue.send_last('{"t":"close"}')
        assert channel.sent == ['{"t":"close"}']

    asyncio.run(run())


def test_a_send_queue_never_wedges_on_one_bad_item() -> None:
    from fakes import RecordingChannel

    channel = RecordingChannel()
    sent = channel.sent

    async def run() -> None:
        queue = SendQueue(1 << 20)
        queue.attach(channel)  # type: ignore[arg-type]
        queue.put('{"d":"\ud800"}')
        queue.put('{"d":"é"}')
        queue.put(b"\x00binary")
        queue.put('{"d":"after"}')
        queue.flush()
        assert sent == ['{"d":"é"}', b"\x00binary", '{"d":"after"}']
        assert queue._bytes == 0  # measured in bytes: "é" is two

    asyncio.run(run())


def test_a_close_notice_reaches_a_congested_peer() -> None:
    """A peer cut off while its channel is full still reads why (its backlog is dropped)."""
    from peerpyrtc._rtc.sendqueue import HIGH_WATER

    sent: list[Any] = []

    class FullChannel:
        readyState = "open"
        bufferedAmount = HIGH_WATER + 1
        bufferedAmountLowThreshold = 0

        def on(self, *args: Any) -> None:
            pass

        def send(self, data: Any) -> None:
            sent.append(data)

    async def run() -> None:
        queue = SendQueue(1 << 20)
        queue.attach(FullChannel())  # type: ignore[arg-type]
        for i in range(5):
            queue.put(f'{{"d":{i}}}')
        queue.flush()
        assert sent == []  # congested: nothing moves
        queue.send_last('{"t":"close"}')
        assert sent == ['{"t":"close"}'] and queue._bytes == 0

    asyncio.run(run())
