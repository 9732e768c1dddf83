"""A server peer's life: wired to its channel, opened into its room, removed once; heartbeats.

A mixin of :class:`~peerpyrtc.AsyncSignalingManager`: signalling (``_manager``)
creates pending peers; from then on this module moves them through
``pending -> open -> closed``, announces joins, leaves and host changes, and
removes peers that fall silent. The state it works on is declared below.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import RTCDataChannel

from . import _protocol as protocol
from ._delivery import Delivery
from ._hooks import Hooks
from ._limits import Limits
from ._peer import ServerPeer
from ._protocol import CHANNEL_LABEL
from ._relay import Relay
from ._room import Member, Room, RoomRegistry

__all__ = ["CLOSE_GRACE", "PeerLifecycle"]

logger = logging.getLogger(__name__)

#: Seconds a client gets to read a close notice and hang up before the server aborts.
CLOSE_GRACE = 1.0


class PeerLifecycle:
    """Opening, announcing and removing peers, and the heartbeat sweep."""

    limits: Limits
    _rooms: RoomRegistry
    _hooks: Hooks
    _relay: Relay
    _delivery: Delivery
    _active: dict[tuple[str, str], ServerPeer]
    _pending: dict[tuple[str, str], ServerPeer]
    _heartbeat: asyncio.TimerHandle | None
    _closed: bool
    _tasks: set[asyncio.Task[Any]]

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task the manager's ``close()`` waits for."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _wire(self, peer: ServerPeer) -> None:
        pc = peer.pc

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != CHANNEL_LABEL or peer.channel is not None:
                logger.debug("%r: ignoring extra channel %r", peer, channel.label)
                return
            peer.attach(channel)
            channel.on("message", lambda frame: self._relay.on_frame(peer, frame))
            channel.on("close", lambda: self._spawn(self._remove(peer, "closed")))
            if channel.readyState == "open":
                self._opened(peer)
            else:
                channel.on("open", lambda: self._opened(peer))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and peer.state != "closed":
                self._spawn(self._remove(peer, pc.connectionState))

        peer.queue.on_overflow = lambda: self._spawn(self._remove(peer, "too slow to keep up"))

    def _pending_expired(self, peer: ServerPeer) -> None:
        if peer.state == "pending":
            logger.info("%r did not connect within %ss", peer, self.limits.pending_timeout)
            self._spawn(self._remove(peer, "timeout"))

    def _opened(self, peer: ServerPeer) -> None:
        key = (peer.room, peer.id)
        if self._pending.get(key) is not peer or peer.state != "pending":
            return
        del self._pending[key]
        peer.state = "open"
        if peer.timer is not None:
            peer.timer.cancel()
        peer.last_seen = peer.tokens_at = self._loop_time()
        peer.tokens = float(self.limits.message_burst)
        peer.byte_tokens = float(self.limits.byte_burst)
        self._start_heartbeat()
        old = self._active.get(key)
        self._active[key] = peer
        if old is not None:  # the same session reconnected: swap connections, keep membership
            old.queue.send_last(
                protocol.close_notice("replaced by a newer connection", reconnect=False)
            )
            old.state = "closed"
            self._spawn(old.close())
            r = self._rooms.get(peer.room)
            assert r is not None
            member = r.members[peer.id]
            member.info = peer.info
            self._welcome(peer, r)
            return
        room, _ = self._rooms.join(peer.room, Member(peer.id, peer.info))
        self._welcome(peer, room)
        self._delivery.deliver(
            peer.room, protocol.joined(room.describe(room.members[peer.id])), exclude=peer.id
        )
        logger.debug("%s joined %s", peer.id, peer.room)
        self._hooks.dispatch(
            self._hooks.joined, peer.room, peer.id, room.describe(room.members[peer.id])
        )

    @staticmethod
    def _welcome(peer: ServerPeer, room: Room) -> None:
        peer.send(protocol.welcome(peer.id, peer.room, room.host_id, room.peers()))

    async def _discard(self, peer: ServerPeer) -> None:
        peer.state = "closed"
        await peer.close()

    async def _remove(self, peer: ServerPeer, reason: str, *, notify: bool | None = None) -> None:
        """Take a peer out (once): announce, run hooks, close its connection.

        ``notify`` sends the peer a ``close`` notice first (by default for every
        reason but its own leaving or a closed or failed connection).
        """
        if peer.state == "closed":
            return
        was_open = peer.state == "open"
        key = (peer.room, peer.id)
        if notify is None:
            notify = reason not in ("left", "closed", "failed")
        notify = notify and was_open
        if notify:
            peer.queue.send_last(protocol.close_notice(reason, reconnect=False))
        peer.state = "closed"
        if self._pending.get(key) is peer:
            del self._pending[key]
        if was_open and self._active.get(key) is peer:
            del self._active[key]
            before = self._rooms.get(peer.room)
            was_host = before is not None and before.host_id == peer.id
            room, member, new_host = self._rooms.leave(peer.room, peer.id)
            if room is not None and member is not None:
                info = {**room.describe(member), "isHost": was_host}  # the role it had
                self._delivery.deliver(peer.room, protocol.left(info, room.host_id, reason))
                if new_host:  # after the leave, in every member's order
                    self._delivery.deliver(peer.room, protocol.host_changed(new_host))
                logger.debug("%s left %s (%s)", peer.id, peer.room, reason)
                self._hooks.dispatch(self._hooks.left, peer.room, peer.id, info)
        if notify:  # let the client read why, and close its side, before we abort ours
            await peer.wait_remote_close(CLOSE_GRACE)
        await peer.close()

    # ------------------------------------------------------------------ liveness
    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None and self.limits.heartbeat_interval > 0:
            self._heartbeat = asyncio.get_running_loop().call_later(
                self._sweep_every(), self._sweep
            )

    def _sweep_every(self) -> float:
        return min(1.0, self.limits.heartbeat_interval / 2)

    def _sweep(self) -> None:
        """Ping peers that went quiet; drop the ones silent past the timeout."""
        self._heartbeat = None
        if self._closed or not self._active:
            return
        now = self._loop_time()
        for peer in list(self._active.values()):
            silent = now - peer.last_seen
            if silent > self.limits.heartbeat_timeout:
                self._spawn(self._remove(peer, "timeout"))
            elif silent > self.limits.heartbeat_interval:
                peer.send(protocol.PING)
        self._start_heartbeat()
