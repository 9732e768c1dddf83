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


def test_the_bulk_lane_hands_over_little_and_wakes_low() -> None:
    """Large messages' frames go only while the channel holds at most BULK_HIGH_WATER, and
    the drain that resumes them fires at BULK_LOW_WATER; a small message never waits."""
    from fakes import RecordingChannel
    from peerpyrtc._rtc.sendqueue import BULK_HIGH_WATER, BULK_LOW_WATER, LOW_WATER

    class Channel(RecordingChannel):
        def on(self, event: str, f: Any) -> None:
            if event == "bufferedamountlow":
                self.drained = f

        def send(self, data: Any) -> None:
            super().send(data)
            self.bufferedAmount += len(data)

    async def run() -> None:
        channel = Channel()
        queue = SendQueue(64 << 20)
        queue.attach(channel)  # type: ignore[arg-type]
        frame = b"x" * 16_000
        left: list[bool] = []
        for _ in range(40):
            queue.put_bulk(frame, left.append)
        queue.flush()
        handed = len(channel.sent)
        assert handed == BULK_HIGH_WATER // 16_000 + 1  # a few frames, not the 640 KB
        assert channel.bufferedAmountLowThreshold == BULK_LOW_WATER
        queue.put('{"t":"msg","d":"chat"}')  # jumps the 34 frames still waiting
        queue.flush()
        assert channel.sent[handed] == '{"t":"msg","d":"chat"}'
        channel.bufferedAmount = BULK_LOW_WATER - 1  # the SCTP took most of it
        channel.drained()
        await asyncio.sleep(0)
        queue.flush()
        assert len(channel.sent) > handed + 1
        assert channel.bufferedAmountLowThreshold in (BULK_LOW_WATER, LOW_WATER)
        channel.bufferedAmount = 0
        while left.count(True) < 40:
            channel.bufferedAmount = 0
            channel.drained()
            await asyncio.sleep(0)
            queue.flush()
        assert left == [True] * 40 and channel.sent.count(frame) == 40

    asyncio.run(run())
