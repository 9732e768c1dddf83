"""The room store in Redis: one membership, host and broadcast order for a whole cluster.

Every change is one Lua script, so it is atomic across workers: exactly one
holder per id, exactly one host per room, one broadcast sequence. Keys, under
a prefix (``peerpyrtc:`` by default), per room ``r:<room>:``:

=============  ======  =====================================================
``claims``     hash    peer id -> session (claimed ids, members included)
``owners``     hash    peer id -> worker id (who holds the connection)
``members``    zset    peer id -> join order (a cluster-wide counter)
``info``       hash    peer id -> presence data (JSON)
``joined``     hash    peer id -> joinedAt (ms)
``host``       string  the host's peer id
``seq``        string  the broadcast sequence
=============  ======  =====================================================

and ``rooms`` (set of rooms with claims), ``order`` (join counter), and
``w:<worker>`` (set of ``room NUL id`` a worker owns, for eviction).
Redis Cluster is not supported (scripts touch keys they compute).
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import PeerIdTaken, RoomFull
from .._limits import Limits
from .._rooms.store import Joined, Left, RoomStore
from .redis_client import RedisClient

__all__ = ["RedisStore"]

_COMMON = """
local P = ARGV[1]
local room = ARGV[2]
local R = P .. 'r:' .. room .. ':'
local function drop_if_empty()
  if redis.call('ZCARD', R .. 'members') == 0 then
    redis.call('DEL', R .. 'host', R .. 'seq')
  end
  if redis.call('HLEN', R .. 'claims') == 0 then
    redis.call('SREM', P .. 'rooms', room)
  end
end
local function snapshot()
  local ids = redis.call('ZRANGE', R .. 'members', 0, -1)
  local out = {redis.call('GET', R .. 'host') or false, ids}
  if #ids > 0 then
    out[3] = redis.call('HMGET', R .. 'info', unpack(ids))
    out[4] = redis.call('HMGET', R .. 'joined', unpack(ids))
  else
    out[3] = {}
    out[4] = {}
  end
  return out
end
"""

CLAIM = (
    _COMMON
    + """
local id, session, worker = ARGV[3], ARGV[4], ARGV[5]
local held = redis.call('HGET', R .. 'claims', id)
local moved = false
if held then
  if held ~= session then return 'taken' end
  local old = redis.call('HGET', R .. 'owners', id)
  if old and old ~= worker then
    redis.call('SREM', P .. 'w:' .. old, room .. '\\0' .. id)
    moved = old
  end
else
  local n = redis.call('HLEN', R .. 'claims')
  if n >= tonumber(ARGV[6]) then return 'full' end
  if n == 0 and redis.call('SCARD', P .. 'rooms') >= tonumber(ARGV[7]) then return 'rooms' end
  redis.call('HSET', R .. 'claims', id, session)
  redis.call('SADD', P .. 'rooms', room)
end
redis.call('HSET', R .. 'owners', id, worker)
redis.call('SADD', P .. 'w:' .. worker, room .. '\\0' .. id)
if moved then return 'moved:' .. moved end
return 'ok'
"""
)

RELEASE = (
    _COMMON
    + """
local id, session, owner = ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', R .. 'claims', id) ~= session then return 0 end
if redis.call('ZSCORE', R .. 'members', id) then return 0 end
-- only the worker that holds the claim gives it up (another may hold it for the same session)
if redis.call('HGET', R .. 'owners', id) ~= owner then return 0 end
redis.call('SREM', P .. 'w:' .. owner, room .. '\\0' .. id)
redis.call('HDEL', R .. 'claims', id)
redis.call('HDEL', R .. 'owners', id)
drop_if_empty()
return 1
"""
)

JOIN = (
    _COMMON
    + """
local id, session, info, now = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('HGET', R .. 'claims', id) ~= session then return false end
local rejoined = 0
if redis.call('ZSCORE', R .. 'members', id) then
  rejoined = 1
else
  redis.call('ZADD', R .. 'members', redis.call('INCR', P .. 'order'), id)
  redis.call('HSET', R .. 'joined', id, now)
  if not redis.call('GET', R .. 'host') then redis.call('SET', R .. 'host', id) end
end
redis.call('HSET', R .. 'info', id, info)
local out = snapshot()
out[5] = rejoined
out[6] = redis.call('ZSCORE', R .. 'members', id)
return out
"""
)

#: A worker puts back a member it still serves (after Redis lost it, or lost the worker):
#: same session, same join order; the host is the longest present, as always.
RESTORE = (
    _COMMON
    + """
local id, session, info = ARGV[3], ARGV[4], ARGV[5]
local joined, order, worker = ARGV[6], ARGV[7], ARGV[8]
local held = redis.call('HGET', R .. 'claims', id)
if held and held ~= session then return false end
redis.call('HSET', R .. 'claims', id, session)
redis.call('HSET', R .. 'owners', id, worker)
redis.call('SADD', P .. 'rooms', room)
redis.call('SADD', P .. 'w:' .. worker, room .. '\\0' .. id)
local rejoined = redis.call('ZSCORE', R .. 'members', id) and 1 or 0
if rejoined == 0 then
  redis.call('ZADD', R .. 'members', order, id)
  redis.call('HSET', R .. 'joined', id, joined)
end
redis.call('HSET', R .. 'info', id, info)
if tonumber(redis.call('GET', P .. 'order') or '0') < tonumber(order) then
  redis.call('SET', P .. 'order', order)
end
local first = redis.call('ZRANGE', R .. 'members', 0, 0)[1]
redis.call('SET', R .. 'host', first)
return {rejoined, first}
"""
)

LEAVE = (
    _COMMON
    + """
local id, session, owner = ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', R .. 'claims', id) ~= session then return false end
if not redis.call('ZSCORE', R .. 'members', id) then return false end
local held_by = redis.call('HGET', R .. 'owners', id)
-- only the worker that holds the connection takes the member out (the same session may
-- have moved to another worker: the old one's late leave must not evict the new one)
if held_by ~= owner then return false end
local info = redis.call('HGET', R .. 'info', id)
local joined = redis.call('HGET', R .. 'joined', id)
local was_host = redis.call('GET', R .. 'host') == id
redis.call('ZREM', R .. 'members', id)
redis.call('HDEL', R .. 'info', id)
redis.call('HDEL', R .. 'joined', id)
redis.call('HDEL', R .. 'claims', id)
redis.call('HDEL', R .. 'owners', id)
redis.call('SREM', P .. 'w:' .. owner, room .. '\\0' .. id)
local new_host = false
if was_host then
  local first = redis.call('ZRANGE', R .. 'members', 0, 0)[1]
  if first then
    redis.call('SET', R .. 'host', first)
    new_host = first
  else
    redis.call('DEL', R .. 'host')
  end
end
local host = redis.call('GET', R .. 'host') or false
drop_if_empty()
return {info, joined, was_host and 1 or 0, host, new_host}
"""
)

PEERS = _COMMON + "\nreturn snapshot()\n"

NEXT_SEQ = """
return redis.call('INCR', ARGV[1] .. 'r:' .. ARGV[2] .. ':seq')
"""

#: A worker's peers, taken atomically (one evictor wins): ``[room, id, session]`` triples.
TAKE_WORKER = """
local P, worker = ARGV[1], ARGV[2]
local out = {}
for _, key in ipairs(redis.call('SMEMBERS', P .. 'w:' .. worker)) do
  local sep = string.find(key, '\\0', 1, true)
  local room, id = string.sub(key, 1, sep - 1), string.sub(key, sep + 1)
  local session = redis.call('HGET', P .. 'r:' .. room .. ':claims', id)
  if session then
    out[#out + 1] = {room, id, session}
  end
end
redis.call('DEL', P .. 'w:' .. worker)
return out
"""


def describe(
    peer_id: str, host: str | None, info: bytes | str | None, joined: Any
) -> dict[str, Any]:
    """A member's public description (the in-memory ``Room.describe``'s shape)."""
    data = json.loads(info) if info else {}
    return {**data, "id": peer_id, "isHost": peer_id == host, "joinedAt": int(joined or 0)}


class RedisStore(RoomStore):
    """The room store of a cluster (``redis.asyncio.Redis`` with ``decode_responses=False``)."""

    def __init__(
        self,
        redis: RedisClient,
        limits: Limits | None = None,
        *,
        worker_id: str,
        prefix: str = "peerpyrtc:",
    ) -> None:
        super().__init__(limits, worker_id=worker_id)
        self.redis = redis
        self.prefix = prefix
        self._scripts = {
            name: redis.register_script(source)
            for name, source in (
                ("claim", CLAIM),
                ("release", RELEASE),
                ("join", JOIN),
                ("leave", LEAVE),
                ("peers", PEERS),
                ("seq", NEXT_SEQ),
                ("take", TAKE_WORKER),
                ("restore", RESTORE),
            )
        }

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._scripts[name](args=[self.prefix, *args])

    async def claim(self, room: str, peer_id: str, session: str) -> str | None:
        limits = self.limits
        result = await self._run(
            "claim",
            room,
            peer_id,
            session,
            self.worker_id,
            limits.max_peers_per_room,
            limits.max_rooms,
        )
        if result == b"taken":
            raise PeerIdTaken(f"peer id {peer_id!r} is already in use in room {room!r}")
        if result == b"full":
            raise RoomFull(f"room {room!r} is full ({limits.max_peers_per_room} peers)")
        if result == b"rooms":
            raise RoomFull(f"this cluster holds its maximum of {limits.max_rooms} rooms")
        if result.startswith(b"moved:"):  # another worker held it for this session
            return str(result[len(b"moved:") :].decode())
        return None

    async def release(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> None:
        await self._run("release", room, peer_id, session, owner or self.worker_id)

    async def join(self, room: str, peer_id: str, session: str, info: dict[str, Any]) -> Joined:
        import time

        now = int(time.time() * 1000)
        out = await self._run("join", room, peer_id, session, json.dumps(info), now)
        if not out:
            raise PeerIdTaken(f"peer id {peer_id!r} is not claimed by this session")
        peers = self._peers(out)
        me = next(p for p in peers if p["id"] == peer_id)
        return Joined(me, out[0].decode(), peers, bool(out[4]), int(float(out[5])))

    async def leave(
        self, room: str, peer_id: str, session: str, *, owner: str | None = None
    ) -> Left | None:
        out = await self._run("leave", room, peer_id, session, owner or self.worker_id)
        if not out:
            return None
        info, joined, was_host, host, new_host = out
        member = describe(peer_id, peer_id if was_host else None, info, joined)
        return Left(
            member, host.decode() if host else None, new_host.decode() if new_host else None
        )

    async def next_seq(self, room: str) -> int:
        return int(await self._run("seq", room))

    async def owner(self, room: str, peer_id: str) -> str | None:
        owner = await self.redis.hget(f"{self.prefix}r:{room}:owners", peer_id)
        return owner.decode() if owner is not None else None

    async def holder(self, room: str, peer_id: str) -> str | None:
        session = await self.redis.hget(f"{self.prefix}r:{room}:claims", peer_id)
        return session.decode() if session is not None else None

    async def room_peers(self, room: str) -> list[dict[str, Any]]:
        return self._peers(await self._run("peers", room))

    async def rooms_info(self) -> dict[str, dict[str, Any]]:
        rooms = sorted(r.decode() for r in await self.redis.smembers(f"{self.prefix}rooms"))
        result = {}
        for room in rooms:
            out = await self._run("peers", room)
            if out[1]:
                peers = self._peers(out)
                host = out[0].decode() if out[0] else None
                result[room] = {"peer_count": len(peers), "peers": peers, "host_id": host}
        return result

    async def take_worker(self, worker_id: str) -> list[tuple[str, str, str]]:
        """Take every peer a (dead) worker owned: ``(room, peer_id, session)``; one caller wins."""
        out = await self._run("take", worker_id)
        return [(r.decode(), p.decode(), s.decode()) for r, p, s in out]

    async def restore(
        self,
        room: str,
        peer_id: str,
        session: str,
        info: dict[str, Any],
        joined_at: int,
        order: int,
    ) -> tuple[bool, str] | None:
        """Put back a member this worker serves; ``(was it still there, host)``, or None when
        another session holds the id now."""
        out = await self._run(
            "restore", room, peer_id, session, json.dumps(info), joined_at, order, self.worker_id
        )
        return (bool(out[0]), out[1].decode()) if out else None

    @staticmethod
    def _peers(out: list[Any]) -> list[dict[str, Any]]:
        host = out[0].decode() if out[0] else None
        return [
            describe(pid.decode(), host, info, joined)
            for pid, info, joined in zip(out[1], out[2], out[3], strict=True)
        ]
