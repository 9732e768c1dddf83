"""The direct links of an ``AsyncClient`` in a mesh room (the browser client's ``mesh.js``).

The same rules as the browser's, so both kinds of peer share a mesh: per pair and
direction one path at a time; direct frames ``{"t":"d","s":first,"b":[...]}``
carry the pair's sequence numbers and are acknowledged (``{"t":"a","s":n}``);
relay -> direct: ``switch`` through the relay, then direct (the receiver holds
direct frames until the ``switch``); direct -> relay: ``fallback`` and a
``resend`` of what was not acknowledged (the receiver drops numbers it has).
The peer with the larger id opens links; aiortc does not trickle, so its
candidates travel inside its description. Volatile messages go on each link's second
channel once the peer's ``switch`` said it has one (``"v": 1``), unnumbered, and are
dropped while it is behind. Docs: docs/protocol.md, "Mesh rooms".
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration

from .._errors import PeerPyRTCError
from .._rtc.sendqueue import HIGH_WATER
from .._wire import protocol
from .direct import (  # the rules both clients share (tests/cases/mesh.json)
    ACK_AFTER,
    ACK_EVERY,
    ACK_FRAME_BYTES,
    ACK_WAIT,
    ACK_WINDOW,
    MAX_DIRECT_BYTES,
    MAX_HELD,
    MAX_UNACKED,
    MAX_UNACKED_BYTES,
    NEW_LINK_SECONDS,
    RETRY,
    STRIKE_BYTES,
    direct_envelope,
    direct_volatile,
    with_skip,
)
from .link import Link, LinkHost

__all__ = ["ClientMesh"]

logger = logging.getLogger(__name__)


class Pair:
    """What this peer knows of one other peer of the mesh."""

    def __init__(self, peer_id: str) -> None:
        self.id = peer_id
        self.link: Link | None = None
        self.out = "relay"
        self.out_seq = 0
        self.unacked: list[tuple[int, str]] = []
        self.unacked_bytes = 0
        self.outbox: list[str] = []
        self.in_direct = False
        self.in_seq = 0
        self.held: list[tuple[int, Any]] = []
        self.unacked_in = 0
        self.ack_timer: asyncio.TimerHandle | None = None
        self.retry_timer: asyncio.TimerHandle | None = None
        self.retries = 0
        self.link_at = float("-inf")
        self.strikes = 0
        self.quiet_until = float("-inf")
        self.acked_at = float("-inf")
        #: Its ``switch`` said its links have the volatile channel.
        self.volatile = False

    @property
    def can_send(self) -> bool:
        return self.out == "direct" and self.link is not None and self.link.is_open


class ClientMesh:
    """The pairs of one client; ``route`` decides each message's path."""

    def __init__(
        self,
        self_id: str,
        members: Callable[[], list[str]],
        signal: Callable[[str, dict[str, Any]], None],
        deliver: Callable[[str, str | None, Any], None],
        configuration: Callable[[], RTCConfiguration],
        spawn: Callable[[Any], None],
    ) -> None:
        self.self_id, self.members, self.signal = self_id, members, signal
        self.deliver, self.configuration, self.spawn = deliver, configuration, spawn
        self.active = False
        self.cap = 0
        self.pairs: dict[str, Pair] = {}
        self._drained: asyncio.Event | None = None

    def configure(self, topology: str, cap: int) -> None:
        self.active, self.cap = topology == "mesh", cap
        self.update()

    def update(self) -> None:
        eligible = set(self.members()[: self.cap]) if self.active else set()
        if self.self_id not in eligible:
            eligible.clear()
        for peer_id in [p for p in self.pairs if p not in eligible]:
            self.drop(peer_id)
        for peer_id in eligible - {self.self_id} - set(self.pairs):
            pair = self.pairs[peer_id] = Pair(peer_id)
            if self.self_id > peer_id:
                self.start_link(pair)

    def is_direct(self, peer_id: str) -> bool:
        pair = self.pairs.get(peer_id)
        return pair is not None and pair.out == "direct"

    def route(self, raw: str, to: str | None) -> str | None:
        """Send ``raw`` direct where possible; returns what to relay (None: nothing)."""
        if not self.active or not self.pairs or len(raw.encode()) > MAX_DIRECT_BYTES:
            return raw
        targets = [to] if to is not None else [p for p in self.members() if p != self.self_id]
        for peer_id in targets:  # a link that died unnoticed: fall back first, then relay
            pair = self.pairs.get(peer_id)
            if pair is not None and pair.out == "direct" and not pair.can_send and pair.link:
                pair.link.close("channel closed")
        direct = [p for p in targets if p in self.pairs and self.pairs[p].can_send]
        for peer_id in direct:
            self._send_direct(self.pairs[peer_id], raw)
        if not direct:
            return raw
        if to is not None or len(direct) == len(targets):
            return None
        return f'{raw[:-1]},"x":{json.dumps(direct, separators=(",", ":"))}}}'

    def route_volatile(self, frame: str | bytes, to: str | None) -> str | bytes | None:
        """Send a volatile frame on the direct links that have its channel (dropped where
        behind); returns what to relay, with ``x`` naming the peers reached (None: nothing)."""
        if not self.active or not self.pairs:
            return frame
        targets = [to] if to is not None else [p for p in self.members() if p != self.self_id]
        direct = []
        for peer_id in targets:
            pair = self.pairs.get(peer_id)
            link = pair.link if pair is not None and pair.volatile and pair.can_send else None
            if link is not None and link.volatile_open:
                link.send_volatile(frame)
                direct.append(peer_id)
        if not direct:
            return frame
        if to is not None or len(direct) == len(targets):
            return None
        return with_skip(frame, direct)

    def _send_direct(self, pair: Pair, raw: str) -> None:
        pair.out_seq += 1
        pair.unacked.append((pair.out_seq, raw))
        pair.unacked_bytes += len(raw)
        too_far = len(pair.unacked) > MAX_UNACKED or pair.unacked_bytes > MAX_UNACKED_BYTES
        if too_far and pair.link is not None:
            pair.link.close("too far behind")
            return
        pair.outbox.append(raw)
        if len(pair.outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush, pair)

    def _flush(self, pair: Pair) -> None:
        """Send what waits, in frames; above the high-water mark the rest waits for a drain."""
        raws, pair.outbox = pair.outbox, []
        link = pair.link
        if not raws or not pair.can_send or link is None:
            return  # a fallback resends them
        first = pair.out_seq - len(raws) + 1
        start = 0
        while start < len(raws):
            if link.channel.bufferedAmount > HIGH_WATER:
                pair.outbox = raws[start:]
                return
            end, size = start, 0
            while end < len(raws) and (end == start or size + len(raws[end]) <= MAX_DIRECT_BYTES):
                size += len(raws[end]) + 1
                end += 1
            link.send(f'{{"t":"d","s":{first},"b":[{",".join(raws[start:end])}]}}')
            first += end - start
            start = end
        self._wake()

    def drained(self, pair: Pair, link: Link) -> None:
        if pair.link is link:
            self._flush(pair)
        self._wake()

    @property
    def congested(self) -> bool:
        """A direct link is full, or too much sent on one is not acknowledged yet."""
        return any(
            p.can_send and (p.outbox or p.unacked_bytes > ACK_WINDOW) for p in self.pairs.values()
        )

    async def wait_drained(self) -> None:
        while self.congested:  # until no direct link is congested (or the links are gone)
            if self._drained is None:
                self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), ACK_WAIT)
            except asyncio.TimeoutError:
                now = asyncio.get_running_loop().time()
                for pair in self.pairs.values():
                    stuck = pair.unacked_bytes > ACK_WINDOW and now - pair.acked_at > ACK_WAIT
                    if stuck and pair.link is not None:
                        pair.link.close("no acknowledgements")

    def _wake(self) -> None:
        if self._drained is not None and not self.congested:
            self._drained.set()
            self._drained = None

    # ---------------------------------------------------------------- links
    def start_link(self, pair: Pair, link_id: str | None = None, polite: bool = False) -> Link:
        if pair.link is not None:
            pair.link.close("replaced")
        host = LinkHost(
            self.configuration(), lambda d: self.signal(pair.id, d), self.spawn,
            lambda: self.opened(pair, link), lambda frame: self.on_frame(pair, link, frame),
            lambda frame: self.on_volatile(pair, link, frame), lambda: self.drained(pair, link),
            lambda reason: self.closed(pair, link, reason),
        )  # fmt: skip
        link = pair.link = Link(host, pair.id, link_id or secrets.token_urlsafe(9), polite)
        if not polite:
            self.spawn(link.offer())
        return link

    def opened(self, pair: Pair, link: Link) -> None:
        if pair.link is not link:
            return
        pair.retries = 0
        self.signal(pair.id, {"k": "switch", "link": link.link_id, "v": 1})
        pair.out = "direct"

    def closed(self, pair: Pair, link: Link, reason: str) -> None:
        if pair.link is not link:
            return
        pair.link = None
        logger.debug("direct link to %s closed: %s", pair.id, reason)
        pair.in_direct, pair.held, pair.volatile = False, [], False
        if pair.out == "direct":
            pair.out = "relay"
            self.signal(pair.id, {"k": "fallback", "link": link.link_id})
            for seq, raw in pair.unacked:
                self.signal(pair.id, {"k": "resend", "s": seq, "e": json.loads(raw)})
            if pair.unacked_bytes > STRIKE_BYTES:
                quiet = RETRY[min(pair.strikes, len(RETRY) - 1)]
                pair.strikes += 1
                pair.quiet_until = asyncio.get_running_loop().time() + quiet
            pair.unacked, pair.outbox, pair.unacked_bytes = [], [], 0
        self._wake()  # a sender waiting for this link's drain goes on through the relay
        if self.pairs.get(pair.id) is pair and self.self_id > pair.id and reason != "replaced":
            delay = RETRY[min(pair.retries, len(RETRY) - 1)]
            now = asyncio.get_running_loop().time()
            delay = max(delay, pair.quiet_until - now)
            pair.retries += 1
            loop = asyncio.get_running_loop()
            pair.retry_timer = loop.call_later(delay, self._retry, pair)

    def _retry(self, pair: Pair) -> None:
        if self.pairs.get(pair.id) is pair and pair.link is None:
            self.start_link(pair)

    def drop(self, peer_id: str) -> None:
        pair = self.pairs.pop(peer_id, None)
        if pair is None:
            return
        for timer in (pair.retry_timer, pair.ack_timer):
            if timer is not None:
                timer.cancel()
        if pair.link is not None:
            pair.link.close("left the mesh")

    async def close(self) -> None:
        """Close every link and wait until their sockets are released."""
        links = [pair.link for pair in self.pairs.values() if pair.link is not None]
        for peer_id in list(self.pairs):
            self.drop(peer_id)
        self.active = False
        await asyncio.gather(*(link.pc.close() for link in links), return_exceptions=True)

    # -------------------------------------------------------------- receiving
    def on_signal(self, sender: str, d: dict[str, Any]) -> None:
        """A peer's signal; whatever it holds, it ends at most that peer's link."""
        try:
            self._on_signal(sender, d)
        except Exception as exc:
            logger.debug("a bad signal from %s ignored: %r", sender, exc)

    def _on_signal(self, sender: str, d: dict[str, Any]) -> None:
        pair = self.pairs.get(sender)
        if pair is None:
            return
        kind = d.get("k")
        link = pair.link
        if kind == "neg":
            if link is None or d.get("link") != link.link_id:
                if self.self_id > sender or not isinstance(d.get("link"), str):
                    return  # not ours to make
                now = asyncio.get_running_loop().time()
                if now - pair.link_at < NEW_LINK_SECONDS:  # a peer cannot churn our links
                    return
                if now < pair.quiet_until:  # it left too much unacknowledged: not yet
                    return
                pair.link_at = now
                link = self.start_link(pair, d["link"], polite=True)
            self.spawn(link.receive(d))
        elif kind == "switch" and link is not None and d.get("link") == link.link_id:
            pair.in_direct, pair.volatile = True, d.get("v") == 1
            held, pair.held = pair.held, []
            for seq, env in held:
                self._accept(pair, seq, env)
        elif kind == "fallback":
            pair.in_direct, pair.held = False, []
            if link is not None and link.link_id == d.get("link"):
                link.close("the peer fell back")
        elif kind == "resend":
            resent = d.get("s")
            if type(resent) is int and resent > pair.in_seq:
                self._accept(pair, resent, d.get("e"), ack=False)

    def on_frame(self, pair: Pair, link: Link, frame: str | bytes) -> None:
        """A direct frame (runs in aiortc's receive loop: nothing may escape it)."""
        try:
            self._on_frame(pair, link, frame)
        except Exception as exc:
            logger.debug("a bad direct frame from %s ignored: %r", pair.id, exc)

    def _on_frame(self, pair: Pair, link: Link, frame: str | bytes) -> None:
        if pair.link is not link or not isinstance(frame, str):
            return
        try:
            value = protocol.loads(frame)  # strict: no NaN, no lone surrogates, bounded depth
        except PeerPyRTCError:
            return
        if not isinstance(value, dict) or type(value.get("s")) is not int:
            return
        if value.get("t") == "a":
            pair.unacked = [(s, raw) for s, raw in pair.unacked if s > value["s"]]
            pair.unacked_bytes = sum(len(raw) for _, raw in pair.unacked)
            pair.acked_at = asyncio.get_running_loop().time()
            self._wake()
        elif value.get("t") == "d" and isinstance(value.get("b"), list):
            for i, env in enumerate(value["b"]):
                seq = value["s"] + i
                if seq <= pair.in_seq:
                    continue
                if pair.in_direct:
                    self._accept(pair, seq, env)
                elif len(pair.held) >= MAX_HELD:  # frames pushed without a switch: fall back
                    pair.held = []
                    link.close("too many direct frames before the switch")
                    return
                else:
                    pair.held.append((seq, env))
            if len(frame) >= ACK_FRAME_BYTES and pair.in_direct:
                self._ack(pair)

    def on_volatile(self, pair: Pair, link: Link, frame: str | bytes) -> None:
        """A volatile frame on a direct link: delivered at once (unnumbered), if valid."""
        valid = direct_volatile(frame) if pair.link is link else None
        if valid is not None:
            self.deliver(pair.id, *valid)

    def _accept(self, pair: Pair, seq: int, env: Any, ack: bool = True) -> None:
        if seq <= pair.in_seq:
            return
        pair.in_seq = seq
        valid = direct_envelope(env)
        if valid is not None:
            self.deliver(pair.id, *valid)
        if not ack or pair.link is None or not pair.link.is_open:
            return
        pair.unacked_in += 1
        if pair.unacked_in >= ACK_EVERY:
            self._ack(pair)
        elif pair.ack_timer is None:
            pair.ack_timer = asyncio.get_running_loop().call_later(ACK_AFTER, self._ack, pair)

    def _ack(self, pair: Pair) -> None:
        if pair.ack_timer is not None:
            pair.ack_timer.cancel()
        pair.ack_timer = None
        pair.unacked_in = 0
        if pair.link is not None and pair.link.is_open:
            pair.link.send(f'{{"t":"a","s":{pair.in_seq}}}')
