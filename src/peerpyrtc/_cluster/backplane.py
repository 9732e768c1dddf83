"""The Redis backplane: one cluster of workers sharing rooms.

A worker (one :class:`~peerpyrtc.AsyncSignalingManager`) with
``backplane="redis://..."`` keeps its rooms in a :class:`RedisStore`, sends
room frames through a :class:`ClusterDelivery`, and runs three tasks here:

* **listen**: the room channels it follows and its own worker channel, on
  which other workers forward signalling for its peers (``/candidate``,
  ``/leave``, ``kick``) and get the answers back;
* **publish**: the delivery's ordered, pipelined publisher;
* **keepalive**: every second it renews ``alive:<worker>`` (5 s TTL), reaps
  workers whose key expired (their peers leave every room, once), and after a
  lost link puts its own peers back (same sessions, same join order) before
  delivering through Redis again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

from .._errors import (
    PeerPyRTCError,
    Unavailable,
    UnknownPeer,
    refusal,
)
from .._limits import Limits
from .._logging import redact_url
from .._rooms.metrics import Metrics
from .._wire import protocol
from .bus import RedisPubSubBus
from .delivery import ClusterDelivery
from .host import ClusterHost
from .parking import CandidateParking
from .redis_client import connect
from .redis_store import RedisStore

__all__ = ["RedisBackplane"]

logger = logging.getLogger(__name__)

#: A worker whose alive key is older than this is dead: its peers leave.
WORKER_TTL_MS = 5000
KEEPALIVE_EVERY = 1.0
#: How long a forwarded request waits for the owning worker's answer.
FORWARD_TIMEOUT = 5.0


class RedisBackplane:
    """Connects one worker to the others through Redis."""

    def __init__(
        self, url: str, limits: Limits, metrics: Metrics, *, prefix: str = "peerpyrtc:"
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.redis = connect(url)
        self.store = RedisStore(self.redis, limits, worker_id=self.worker_id, prefix=prefix)
        self.bus = RedisPubSubBus(self.redis)
        self.delivery = ClusterDelivery(self.bus, prefix, metrics)
        self.parking = CandidateParking(self.redis, prefix, limits)
        #: Workers registered in the cluster, as last counted (every second).
        self.workers = 0
        #: Redis's identity: it changes when Redis lost its data (a restart without persistence).
        self._epoch: bytes | None = None
        self._host: ClusterHost | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._listener: asyncio.Task[Any] | None = None
        self._calls: dict[str, asyncio.Future[Any]] = {}
        self._started = False

    @property
    def shown_url(self) -> str:
        """The Redis URL as logs may show it: no password."""
        return redact_url(self.url)

    @property
    def _me(self) -> str:
        return f"{self.prefix}worker:{self.worker_id}"

    # ------------------------------------------------------------- life
    async def start(self, host: ClusterHost) -> None:
        """Connect (or raise :class:`Unavailable`), register this worker and start its tasks."""
        if self._started:
            return
        self._host = host
        try:
            await asyncio.wait_for(self.redis.ping(), 5)
            await self._register()
            await self._subscribe()
        except (OSError, asyncio.TimeoutError, Exception) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            # the details (where, why) go to the operator's log, with the credentials
            # redacted; the error itself reaches clients (a 503) and says nothing of Redis
            cause = str(exc)
            password = urlsplit(self.url).password
            if password:  # in case a client library repeats it
                cause = cause.replace(password, "***")
            logger.warning("the Redis backplane at %s is unreachable: %s", self.shown_url, cause)
            raise Unavailable("the server's backplane is unreachable; try again shortly") from None
        self._started = True
        self.delivery.linked = True
        self._tasks = [
            asyncio.ensure_future(self.delivery.run_publisher()),
            asyncio.ensure_future(self._keepalive()),
        ]
        logger.info("worker %s joined the cluster at %s", self.worker_id, self.shown_url)

    async def close(self) -> None:
        """Leave the cluster: stop the tasks, drop this worker's registration."""
        for task in [*self._tasks, self._listener]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *[t for t in [*self._tasks, self._listener] if t], return_exceptions=True
        )
        with contextlib.suppress(Exception):
            if self._started:  # give back every claim (pending offers too), then deregister
                # (the manager has told the rooms about its open peers already)
                mine = await self.store.take_worker(self.worker_id)
                await self._evict(self.worker_id, mine, None)
                await self.redis.delete(f"{self.prefix}alive:{self.worker_id}")
                await self.redis.srem(f"{self.prefix}workers", self.worker_id)
        await self.bus.close()
        await self.redis.aclose()

    async def _register(self) -> bool:
        """Renew this worker's key; False when Redis lost its data since the last time."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{self.prefix}alive:{self.worker_id}", b"1", px=WORKER_TTL_MS)
            pipe.sadd(f"{self.prefix}workers", self.worker_id)
            pipe.set(f"{self.prefix}epoch", secrets.token_hex(8), nx=True)
            pipe.get(f"{self.prefix}epoch")
            *_, epoch = await pipe.execute()
        self.workers = await self.redis.scard(f"{self.prefix}workers")
        same = self._epoch is None or epoch == self._epoch
        self._epoch = epoch
        return same

    async def _subscribe(self) -> None:
        """A fresh subscription: this worker's channel and every room it serves."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self.bus.reset([self._me, *self.delivery.channels()])
        self._listener = asyncio.ensure_future(self._listen())

    # ------------------------------------------------------------- listening
    async def _listen(self) -> None:
        await self.bus.listen(self._on_message)
        self.delivery.linked = False  # the subscription was lost

    def _on_message(self, channel: str, data: bytes) -> None:
        room = self.delivery.room_of(channel)
        try:
            if room is not None:
                self.delivery.receive(room, data)
            else:
                self._on_request(json.loads(data))
        except Exception:  # one bad message must not stop the worker
            logger.exception("backplane: undeliverable message on %s", channel)

    # ------------------------------------------------------------- forwarding
    async def elsewhere(self, room: str, peer_id: str) -> str | None:
        """The worker that holds ``peer_id`` when it is another one (else None)."""
        owner = await self.store.owner(room, peer_id)
        return owner if owner is not None and owner != self.worker_id else None

    async def route_candidate(
        self,
        room: str,
        peer_id: str,
        candidate: dict[str, Any],
        session: str,
        addr: str | None = None,
    ) -> bool:
        """A candidate for a peer this worker does not hold: forward it to its worker, or park
        it in Redis until its offer arrives on any worker. False: keep it here."""
        owner = await self.parking.park(room, peer_id, session, candidate, addr)
        if owner is None:
            logger.debug("candidate for %s/%s parked until its offer", room, peer_id)
            return True
        if owner == self.worker_id:
            return False
        logger.debug("candidate for %s/%s forwarded to worker %s", room, peer_id, owner)
        await self.forward(owner, "candidate", room, peer_id, candidate)
        return True

    async def take_parked(self, room: str, peer_id: str, session: str) -> list[dict[str, Any]]:
        """Candidates parked for this session before its offer was claimed here (call after
        the claim)."""
        found = await self.parking.take(room, peer_id, session)
        if found:
            logger.debug("%d parked candidates for %s/%s", len(found), room, peer_id)
        return found

    async def let_go(self, owner: str, room: str, peer_id: str, session: str) -> None:
        """Tell the worker that held a session's connection that it moved here."""
        try:
            await self.forward(owner, "let_go", room, peer_id, session)
        except PeerPyRTCError as exc:  # gone or silent: its late leave changes nothing anyway
            logger.debug("worker %s did not let %s/%s go: %s", owner, room, peer_id, exc)

    async def forward(self, owner: str, op: str, *args: Any) -> Any:
        """Run ``op`` on the worker that owns a peer; its error is raised here."""
        call = secrets.token_hex(8)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[call] = future
        request = {"call": call, "from": self.worker_id, "op": op, "args": list(args)}
        try:
            receivers = await self.bus.send(
                f"{self.prefix}worker:{owner}", json.dumps(request).encode()
            )
            if not receivers:
                raise UnknownPeer("the worker that holds this peer is gone")
            reply = await asyncio.wait_for(future, FORWARD_TIMEOUT)
        except asyncio.TimeoutError:
            raise Unavailable("the worker that holds this peer did not answer") from None
        finally:
            self._calls.pop(call, None)
        if "error" in reply:
            raise refusal(reply.get("code"), reply["error"])
        return reply.get("result")

    def _on_request(self, message: dict[str, Any]) -> None:
        if "op" not in message:  # an answer to one of ours
            future = self._calls.get(message.get("call", ""))
            if future is not None and not future.done():
                future.set_result(message)
            return
        task = asyncio.ensure_future(self._serve(message))
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _serve(self, message: dict[str, Any]) -> None:
        host = self._host
        assert host is not None
        op, args = message["op"], message["args"]
        reply: dict[str, Any] = {"call": message["call"]}
        try:
            result = await host.serve(op, args)
            if op in ("kick", "let_go"):
                reply["result"] = result
        except PeerPyRTCError as exc:
            reply.update(error=str(exc), code=exc.code)
        except Exception as exc:  # reported to the caller, not lost
            logger.exception("backplane: forwarded %s failed", op)
            reply.update(error=str(exc), code="ERR_INTERNAL")
        with contextlib.suppress(Exception):
            await self.bus.send(
                f"{self.prefix}worker:{message['from']}", json.dumps(reply).encode()
            )

    # ------------------------------------------------------------- liveness
    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_EVERY)
            try:
                if not self.delivery.linked or self._listener is None or self._listener.done():
                    await self._relink()
                await self._register()
                await self._reap()
                await self.delivery.unfollow_idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.delivery.linked:
                    logger.warning("backplane: Redis unreachable (%s); serving local peers", exc)
                self.delivery.linked = False

    async def _relink(self) -> None:
        """Back after a lost link: subscribe again, put our peers back, then go through Redis."""
        await self.redis.ping()
        kept_data = await self._register()
        await self._subscribe()
        cluster = self._host
        assert cluster is not None
        announce = []
        mine = cluster.open_peers()
        for peer in mine:
            restored = await self.store.restore(
                peer.room, peer.id, peer.session, peer.info, peer.joined_at, peer.order
            )
            if restored is None:  # another session took the id meanwhile
                cluster.drop(peer, "replaced while the cluster was apart")
            elif kept_data and not restored[0]:  # we were reaped: the others were told it left
                announce.append((peer, restored[1]))
        for room in list(self.delivery.local):
            self.delivery.resync(room, await self.store.room_peers(room))
        self.delivery.linked = True
        for peer, host in announce:
            peers = await self.store.room_peers(peer.room)
            me = next((p for p in peers if p["id"] == peer.id), None)
            if me is not None:
                self.delivery.presence(peer.room, protocol.joined(me), peer.id, True)
                if host == peer.id:
                    self.delivery.deliver(peer.room, protocol.host_changed(host))
        logger.info("backplane: linked again; %d local peers restored", len(mine))

    async def _reap(self) -> None:
        """Take the peers of workers that stopped renewing their key out of every room."""
        workers = await self.redis.smembers(f"{self.prefix}workers")
        self.workers = len(workers)
        for raw in workers:
            worker = raw.decode()
            if worker == self.worker_id:
                continue
            if await self.redis.exists(f"{self.prefix}alive:{worker}"):
                continue
            if not await self.redis.srem(f"{self.prefix}workers", worker):
                continue  # another worker is reaping it
            peers = await self.store.take_worker(worker)
            logger.info("backplane: worker %s is gone; %d peers leave", worker, len(peers))
            await self._evict(worker, peers, "timeout")

    async def _evict(
        self, worker: str, peers: list[tuple[str, str, str]], reason: str | None
    ) -> None:
        """Take a worker's peers (members and bare claims) out of the store; with a
        ``reason``, the others are told they left."""
        for room, peer_id, session in peers:
            left = await self.store.leave(room, peer_id, session, owner=worker)
            if left is None:
                await self.store.release(room, peer_id, session, owner=worker)
            elif reason is not None:
                assert self._host is not None
                self._host.announce_left(room, peer_id, left, reason)
