"""Candidates that reach the cluster before their offer, parked in Redis (the backplane's
counterpart of ``_offers.EarlyCandidates``), with the same bounds, cluster-wide.

Only the validated fields are kept (``candidate``, ``sdpMid``, ``sdpMLineIndex``), one list
per session (so no other session can push a session's candidates out), under keys no two
(room, peer id, session) share: the parts are joined by NUL, which none of them can hold.
Bounds: ``max_early_candidates`` per session (past it: 429), ``max_early_sessions`` sessions
in the whole cluster and ``max_early_sessions_per_address`` per client address, each for
``early_candidate_ttl``. Keys (under the prefix): ``early:<room>\\0<id>\\0<session>`` (list),
``early:all`` (zset of those keys by expiry), ``early:addr:<addr>`` (the same per address),
``early:addrs`` (hash: key -> address).
"""

from __future__ import annotations

import json
import time
from typing import Any

from .._errors import RateLimited
from .._limits import Limits
from .redis_client import RedisClient

__all__ = ["CandidateParking"]

_PRUNE = """
local P, now = ARGV[1], tonumber(ARGV[2])
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'early:all', '-inf', now)) do
  local addr = redis.call('HGET', P .. 'early:addrs', old)
  if addr then redis.call('ZREM', P .. 'early:addr:' .. addr, old) end
  redis.call('HDEL', P .. 'early:addrs', old)
end
redis.call('ZREMRANGEBYSCORE', P .. 'early:all', '-inf', now)
"""

#: ARGV: prefix, now (ms), room, id, session, candidate (validated JSON), address ('' = none),
#: per session, sessions in all, sessions per address, ttl (ms).
#: Returns the owner of a claimed id (forward to it), 'many' / 'sessions' / 'address' (429),
#: or false (parked).
PARK = (
    _PRUNE
    + """
local room, id, session, cand, addr = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local per_session, total, per_addr, ttl = tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]), tonumber(ARGV[11])
local owner = redis.call('HGET', P .. 'r:' .. room .. ':owners', id)
if owner then return owner end
local key = P .. 'early:' .. room .. '\\0' .. id .. '\\0' .. session
if not redis.call('ZSCORE', P .. 'early:all', key) then
  if redis.call('ZCARD', P .. 'early:all') >= total then return 'sessions' end
  if addr ~= '' and redis.call('ZCARD', P .. 'early:addr:' .. addr) >= per_addr then
    return 'address'
  end
  redis.call('ZADD', P .. 'early:all', now + ttl, key)
  if addr ~= '' then
    redis.call('ZADD', P .. 'early:addr:' .. addr, now + ttl, key)
    redis.call('PEXPIRE', P .. 'early:addr:' .. addr, ttl)
    redis.call('HSET', P .. 'early:addrs', key, addr)
  end
elseif redis.call('LLEN', key) >= per_session then
  return 'many'
end
redis.call('RPUSH', key, cand)
redis.call('PEXPIRE', key, ttl)
return false
"""
)

#: ARGV: prefix, now (ms), room, id, session. Returns the session's parked candidates.
TAKE = (
    _PRUNE
    + """
local key = P .. 'early:' .. ARGV[3] .. '\\0' .. ARGV[4] .. '\\0' .. ARGV[5]
local out = redis.call('LRANGE', key, 0, -1)
local addr = redis.call('HGET', P .. 'early:addrs', key)
if addr then redis.call('ZREM', P .. 'early:addr:' .. addr, key) end
redis.call('HDEL', P .. 'early:addrs', key)
redis.call('ZREM', P .. 'early:all', key)
redis.call('DEL', key)
return out
"""
)

_REFUSALS = {
    b"many": "too many candidates before the offer",
    b"sessions": "too many sessions are waiting for their offer; try again later",
    b"address": "too many sessions from this address wait for their offer",
}


class CandidateParking:
    """Park and take early candidates in Redis (``redis``: a ``redis.asyncio.Redis``)."""

    def __init__(self, redis: RedisClient, prefix: str, limits: Limits) -> None:
        self.prefix = prefix
        self.limits = limits
        self._park = redis.register_script(PARK)
        self._take = redis.register_script(TAKE)

    async def park(
        self, room: str, peer_id: str, session: str, cand: dict[str, Any], addr: str | None
    ) -> str | None:
        """Park one validated candidate unless the id is claimed (then: its owner), atomically
        with the claim; raises :class:`RateLimited` past a bound."""
        limits = self.limits
        kept = {k: cand[k] for k in ("candidate", "sdpMid", "sdpMLineIndex") if k in cand}
        now = int(time.time() * 1000)
        result = await self._park(args=[
            self.prefix, now, room, peer_id, session, json.dumps(kept), addr or "",
            limits.max_early_candidates, limits.max_early_sessions,
            limits.max_early_sessions_per_address, int(limits.early_candidate_ttl * 1000),
        ])  # fmt: skip
        if result in _REFUSALS:
            raise RateLimited(_REFUSALS[result])
        return result.decode() if result else None

    async def take(self, room: str, peer_id: str, session: str) -> list[dict[str, Any]]:
        """The session's parked candidates (and forget them)."""
        now = int(time.time() * 1000)
        found = await self._take(args=[self.prefix, now, room, peer_id, session])
        parsed = [json.loads(c) for c in found]
        return [c for c in parsed if isinstance(c, dict)]
