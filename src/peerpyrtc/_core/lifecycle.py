"""A server peer's life: wired to its link, opened into its room, removed once; heartbeats.

Signalling (:mod:`.signaling`) creates pending peers; from then on this object moves them
through ``pending -> joining -> open -> closed`` (joining: the room store is asked),
announces joins, leaves and host changes, and removes peers that fall silent. It receives
its collaborators; the peer table and the task group are shared with signalling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from .._limits import Limits
from .._rooms.delivery import Delivery
from .._rooms.metrics import Metrics
from .._rooms.store import Left, RoomStore
from .._rtc.transport import Channel, Reliability
from .._wire import protocol
from .._wire.protocol import CHANNEL_LABEL, VOLATILE_LABEL
from .hooks import Hooks
from .peer import ServerPeer
from .peers import PeerTable
from .tasks import TaskGroup

__all__ = ["CLOSE_GRACE", "Lifecycle"]

logger = logging.getLogger(__name__)

#: Seconds a client gets to read a close notice and hang up before the server aborts.
CLOSE_GRACE = 1.0

FrameHandler = Callable[[ServerPeer, "str | bytes"], None]


class Lifecycle:
    """Opening, announcing and removing peers, and the heartbeat sweep.

    Args:
        on_frame: where a peer's frames go (the relay's ``on_frame``).
        topology: a room's topology (``"relay"`` or ``"mesh"``), for its welcome.
    """

    def __init__(
        self,
        limits: Limits,
        store: RoomStore,
        hooks: Hooks,
        delivery: Delivery,
        metrics: Metrics,
        peers: PeerTable,
        tasks: TaskGroup,
        topology: Callable[[str], str],
    ) -> None:
        self.limits = limits
        self._store = store
        self._hooks = hooks
        self._delivery = delivery
        self._metrics = metrics
        self._peers = peers
        self._pending = peers.pending
        self._active = peers.active
        self._tasks = tasks
        self._topology = topology
        self.on_frame: FrameHandler = lambda peer, frame: None
        #: Where frames of a peer's volatile channel go (the relay's ``on_volatile``).
        self.on_volatile: FrameHandler = lambda peer, frame: None
        #: Told of each peer removed (the relay ends its large messages in progress).
        self.on_removed: Callable[[ServerPeer], None] = lambda peer: None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._closed = False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)

    def stop(self) -> None:
        """No more heartbeats (the server is closing)."""
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def wire(self, peer: ServerPeer) -> None:
        """Listen to a new peer's link: its channels, its connection state, its queue."""
        link = peer.link

        def on_channel(channel: Channel, reliability: Reliability) -> None:
            expected = CHANNEL_LABEL if reliability == "reliable" else VOLATILE_LABEL
            if channel.label != expected or reliability in peer.channels:
                logger.debug("%r: ignoring extra channel %r", peer, channel.label)
                return
            peer.attach(channel, reliability)
            if reliability == "volatile":  # its loss or closing is not the peer's
                channel.on("message", lambda frame: self.on_volatile(peer, frame))
                return
            channel.on("message", lambda frame: self.on_frame(peer, frame))
            channel.on("close", lambda: self._spawn(self.remove(peer, "closed")))
            if channel.readyState == "open":
                self._opened(peer)
            else:
                channel.on("open", lambda: self._opened(peer))

        def on_state(state: str) -> None:
            if state in ("failed", "closed") and peer.state != "closed":
                self._spawn(self.remove(peer, state))

        link.on_channel(on_channel)
        link.on_state(on_state)
        peer.queue.on_overflow = lambda: self._spawn(self.remove(peer, "too slow to keep up"))

    def pending_expired(self, peer: ServerPeer) -> None:
        if peer.state == "pending":
            logger.info("%r did not connect within %ss", peer, self.limits.pending_timeout)
            self._spawn(self.remove(peer, "timeout"))

    def _opened(self, peer: ServerPeer) -> None:
        key = (peer.room, peer.id)
        if self._pending.get(key) is not peer or peer.state != "pending":
            return
        del self._pending[key]
        peer.state = "joining"  # frames are held until the store has answered
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
            self._delivery.detach(old)
            self._spawn(old.close())
        self._spawn(self._join(peer))

    async def _join(self, peer: ServerPeer) -> None:
        delivery = self._delivery
        try:
            await delivery.follow(peer.room)  # hear the room before joining it
            joined = await self._store.join(peer.room, peer.id, peer.session, peer.info)
        except Exception as exc:  # the claim was lost (a shared store restarted, ...)
            logger.warning("%r could not join: %s", peer, exc)
            delivery.abandon(peer.room)
            await self.remove(peer, "could not join the room", notify=True)
            await self._store.release(peer.room, peer.id, peer.session)
            return
        if peer.state != "joining":  # removed while the store answered: undo the join
            delivery.abandon(peer.room)
            left = await self._store.leave(peer.room, peer.id, peer.session)
            if left is not None and joined.rejoined:
                self.announce_left(peer.room, peer.id, left, peer.close_reason)
            return
        peer.state = "open"
        peer.order, peer.joined_at = joined.order, joined.member["joinedAt"]
        delivery.attach(peer, [p["id"] for p in joined.peers])
        topology = self._topology(peer.room)
        cap = self.limits.mesh_max_peers
        welcome = protocol.welcome(
            peer.id,
            peer.room,
            joined.host_id,
            joined.peers,
            topology,
            cap,
            self.limits.max_message_bytes,
        )
        peer.send(welcome)
        if not joined.rejoined:
            self._metrics.joins += 1
            self._metrics.connected(self._loop_time() - peer.created)
            self._delivery.presence(peer.room, protocol.joined(joined.member), peer.id, True)
            logger.info(
                "%s joined %s", peer.id, peer.room,
                extra={"event": "joined", "room": peer.room, "peer": peer.id},
            )  # fmt: skip
            self._hooks.dispatch(self._hooks.joined, peer.room, peer.id, joined.member)
        held, peer.held = peer.held, []
        for frame in held:
            self.on_frame(peer, frame)

    def announce_left(self, room: str, peer_id: str, left: Left, reason: str) -> None:
        self._metrics.leaves += 1
        self._delivery.presence(
            room, protocol.left(left.member, left.host_id, reason), peer_id, False
        )
        if left.new_host:  # after the leave, in every member's order
            self._delivery.deliver(room, protocol.host_changed(left.new_host))
        logger.info(
            "%s left %s (%s)", peer_id, room, reason,
            extra={"event": "left", "room": room, "peer": peer_id, "reason": reason},
        )  # fmt: skip
        self._hooks.dispatch(self._hooks.left, room, peer_id, left.member)

    async def discard(self, peer: ServerPeer) -> None:
        peer.state = "closed"
        await peer.close()

    async def release(self, peer: ServerPeer) -> None:
        """Give up the store's claim of a peer that never joined, unless a newer one holds it."""
        await self.release_claim(peer.room, peer.id, peer.session)

    async def release_claim(self, room: str, peer_id: str, session: str) -> None:
        if not self._peers.holds((room, peer_id)):
            await self._store.release(room, peer_id, session)

    async def let_go(self, room: str, peer_id: str, session: str) -> bool:
        """The session's connection moved to another worker: drop ours, which the store no
        longer lets act (its leave changes nothing there). False when we hold none."""
        key = (room, peer_id)
        for peer in (self._pending.get(key), self._active.get(key)):
            if peer is not None and peer.session == session:
                await self.remove(peer, "replaced", notify=False)
                return True
        return False

    async def remove(self, peer: ServerPeer, reason: str, *, notify: bool | None = None) -> None:
        """Take a peer out (once): announce, run hooks, close its connection.

        ``notify`` sends the peer a ``close`` notice first (by default for every
        reason but its own leaving or a closed or failed connection).
        """
        if peer.state == "closed":
            return
        state = peer.state
        key = (peer.room, peer.id)
        if notify is None:
            notify = reason not in ("left", "closed", "failed")
        notify = notify and state in ("open", "joining")
        if notify:
            peer.queue.send_last(protocol.close_notice(reason, reconnect=False))
        peer.state = "closed"
        peer.close_reason = reason
        self._metrics.removed(reason, state == "open")
        self._delivery.detach(peer)
        if state == "open":
            self.on_removed(peer)
        if self._pending.get(key) is peer:
            del self._pending[key]
        current = self._active.get(key) is peer
        if current:
            del self._active[key]
        if state == "pending":
            await self.release(peer)
        elif state == "open" and current:
            left = await self._store.leave(peer.room, peer.id, peer.session)
            if left is not None:
                self.announce_left(peer.room, peer.id, left, reason)
        # a joining peer is taken out of the store by its own _join
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
                self._spawn(self.remove(peer, "timeout"))
            elif silent > self.limits.heartbeat_interval:
                peer.send(protocol.PING)
        self._start_heartbeat()
