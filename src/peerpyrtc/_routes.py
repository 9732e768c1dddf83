"""The signalling routes, framework-neutral: every adapter and the built-in server use these.

Each handler takes the raw request body and returns ``(status, json_body)``,
so all adapters validate input the same way and answer the same errors:
400 malformed, 403 no proof of session, 404 unknown peer, 409 taken peer id,
413 too large, 429 full; never a 500 for a client's mistake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ._errors import InvalidRequest, PayloadTooLarge, PeerPyRTCError
from ._manager import AsyncSignalingManager

__all__ = ["ROUTES", "dispatch"]

logger = logging.getLogger(__name__)

Result = tuple[int, Any]


def _parse(body: bytes, manager: AsyncSignalingManager, fields: tuple[str, ...]) -> dict[str, Any]:
    if len(body) > manager.limits.max_body_bytes:
        raise PayloadTooLarge(f"request body is larger than {manager.limits.max_body_bytes} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    missing = [f for f in fields if f not in data]
    if missing:
        raise InvalidRequest(f"missing required field(s): {', '.join(missing)}")
    return data


async def _offer(m: AsyncSignalingManager, body: bytes, meta: dict[str, Any]) -> Result:
    data = _parse(body, m, ("room", "peer_id", "offer"))
    answer = await m.offer(data["room"], data["peer_id"], data["offer"], metadata=meta)
    return 200, {"answer": answer}


async def _candidate(m: AsyncSignalingManager, body: bytes, meta: dict[str, Any]) -> Result:
    data = _parse(body, m, ("room", "peer_id", "candidate"))
    await m.candidate(data["room"], data["peer_id"], data["candidate"])
    return 200, {"status": "ok"}


async def _leave(m: AsyncSignalingManager, body: bytes, meta: dict[str, Any]) -> Result:
    data = _parse(body, m, ("room", "peer_id"))
    session = data.get("session")
    if session is not None and not isinstance(session, str):
        raise InvalidRequest("'session' must be a string")
    await m.leave(data["room"], data["peer_id"], session=session)
    return 200, {"status": "ok"}


Handler = Callable[[AsyncSignalingManager, bytes, dict[str, Any]], Awaitable[Result]]

#: ``(method, path) -> handler`` for the POST routes.
ROUTES: dict[str, Handler] = {"/offer": _offer, "/candidate": _candidate, "/leave": _leave}


async def dispatch(
    manager: AsyncSignalingManager,
    method: str,
    path: str,
    body: bytes,
    metadata: dict[str, Any] | None = None,
) -> Result:
    """Serve one signalling request; returns ``(status, json-serialisable body)``."""
    if path == "/rooms":
        if method not in ("GET", "HEAD"):
            return 405, {"error": "use GET for /rooms"}
        return 200, manager.rooms_info()
    handler = ROUTES.get(path)
    if handler is None:
        return 404, {"error": f"no route {path}"}
    if method != "POST":
        return 405, {"error": f"use POST for {path}"}
    meta = dict(metadata or {})
    if "headers" in meta:  # one spelling for every adapter: lower-case names
        meta["headers"] = {str(k).lower(): v for k, v in meta["headers"].items()}
    try:
        return await handler(manager, body, meta)
    except PeerPyRTCError as exc:
        return exc.status, {"error": str(exc), "code": exc.code}
    except Exception:
        logger.exception("internal error serving %s", path)
        return 500, {"error": "internal server error", "code": "ERR_INTERNAL"}
