"""The signalling routes, framework-neutral: every adapter and the built-in server use these.

Each handler takes the raw request body and returns ``(status, json_body)``,
so all adapters validate input the same way and answer the same errors, each
``{"error", "code"}``: 400 malformed, 401 admin token missing or wrong, 403 no
proof of session, 404 unknown peer or route, 405 wrong method, 409 taken peer
id, 413 too large, 429 full or rate limited; never a 500 for a client's mistake.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import InvalidRequest, PeerPyRTCError, Unauthorized
from .admin import Text, admin_kick, admin_state, metrics, page
from .api import Served, parse_body
from .static import JS_TYPE, bundle

__all__ = [
    "ADMIN_ROUTES",
    "METHODS",
    "OPEN_ROUTES",
    "PATHS",
    "ROUTES",
    "dispatch",
    "error_body",
    "respond",
]

logger = logging.getLogger(__name__)

Result = tuple[int, Any]


async def _offer(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    data = parse_body(body, m.limits, ("room", "peer_id", "offer"))
    answer = await m.offer(data["room"], data["peer_id"], data["offer"], metadata=meta)
    return 200, {"answer": answer}


async def _candidate(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    data = parse_body(body, m.limits, ("room", "peer_id", "candidate"))
    await m.candidate(data["room"], data["peer_id"], data["candidate"], metadata=meta)
    return 200, {"status": "ok"}


async def _leave(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    data = parse_body(body, m.limits, ("room", "peer_id"))
    session = data.get("session")
    if session is not None and not isinstance(session, str):
        raise InvalidRequest("'session' must be a string")
    await m.leave(data["room"], data["peer_id"], session=session)
    return 200, {"status": "ok"}


async def _ice(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    data = parse_body(body, m.limits, ("room", "peer_id"))
    reply = await m.client_ice_servers(
        data["room"], data["peer_id"], session=data.get("session"), metadata=meta
    )
    return 200, reply


async def _health(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    return m.health()


async def _rooms(m: Served, body: bytes, meta: dict[str, Any]) -> Result:
    return 200, await m.fetch_rooms_info()


Handler = Callable[[Served, bytes, dict[str, Any]], Awaitable[Result]]

#: ``path -> handler`` for the signalling routes (POST).
ROUTES: dict[str, Handler] = {
    "/offer": _offer,
    "/candidate": _candidate,
    "/leave": _leave,
    "/ice": _ice,
}
#: ``path -> (method, handler)`` for the admin routes (``Authorization: Bearer <admin_token>``;
#: ``/admin``, the page, holds no data and needs none). They exist only with an admin token.
ADMIN_ROUTES: dict[str, tuple[str, Handler]] = {
    "/rooms": ("GET", _rooms),
    "/metrics": ("GET", metrics),
    "/admin": ("GET", page),
    "/admin/state": ("GET", admin_state),
    "/admin/kick": ("POST", admin_kick),
}
OPEN_ADMIN_ROUTES = ("/admin",)
#: ``path -> (method, handler)`` for routes anyone may read (they tell nothing of rooms).
OPEN_ROUTES: dict[str, tuple[str, Handler]] = {"/health": ("GET", _health)}


def error_body(status: int, message: str) -> dict[str, str]:
    """The JSON body of an error the package answers, for routes outside :func:`dispatch`."""
    codes = {
        404: "ERR_NOT_FOUND",
        405: "ERR_METHOD_NOT_ALLOWED",
        408: "ERR_TIMEOUT",
        411: "ERR_LENGTH_REQUIRED",
        413: "ERR_TOO_LARGE",
        431: "ERR_TOO_LARGE",
    }
    return {"error": message, "code": codes.get(status, "ERR_INVALID_REQUEST")}


def _check_admin(manager: Served, headers: dict[str, Any]) -> None:
    """Raise unless the request carries the configured admin token."""
    auth = str(headers.get("authorization", ""))
    scheme, _, token = auth.partition(" ")
    expected = manager.admin_token or ""
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise Unauthorized("this route needs 'Authorization: Bearer <admin token>'")


async def dispatch(
    manager: Served,
    method: str,
    path: str,
    body: bytes,
    metadata: dict[str, Any] | None = None,
) -> Result:
    """Serve one signalling request; returns ``(status, json-serialisable body)``.

    The admin routes (``GET /rooms``) answer only with the configured admin
    token; without one configured they do not exist (404).
    """
    meta = dict(metadata or {})
    # one spelling for every adapter: lower-case names
    meta["headers"] = {str(k).lower(): v for k, v in (meta.get("headers") or {}).items()}
    admin = ADMIN_ROUTES.get(path)
    wanted, handler = ("POST", ROUTES.get(path)) if admin is None else admin
    if path in OPEN_ROUTES:
        wanted, handler = OPEN_ROUTES[path]
    if handler is None or (admin is not None and manager.admin_token is None):
        return 404, error_body(404, f"no route {path[:100]}")
    if method != wanted and not (wanted == "GET" and method == "HEAD"):
        return 405, error_body(405, f"use {wanted} for {path}")
    try:
        if wanted == "POST":  # a page of another origin, or a form's post, is refused
            manager.origins.check(path, meta["headers"])
        if admin is not None and path not in OPEN_ADMIN_ROUTES:
            _check_admin(manager, meta["headers"])
        return await handler(manager, body, meta)
    except PeerPyRTCError as exc:
        return exc.status, {"error": str(exc), "code": exc.code}
    except Exception:
        logger.exception("internal error serving %s", path)
        return 500, {"error": "internal server error", "code": "ERR_INTERNAL"}


JSON_TYPE = "application/json"
#: Sent with every answer of every adapter: nothing the package serves may be framed by
#: another page (the admin view: clickjacking of its Remove button) or sniffed as another type.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
)
#: Every method the adapters route to :func:`respond`, so a wrong one gets our 405.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: The paths the package serves (besides ``/peerpyrtc/<bundle>``).
PATHS = (*ROUTES, *ADMIN_ROUTES, *OPEN_ROUTES)


async def respond(
    manager: Served,
    method: str,
    path: str,
    body: bytes,
    metadata: dict[str, Any] | None = None,
) -> tuple[int, str, bytes]:
    """Everything an adapter serves, as ``(status, content type, body bytes)``.

    The signalling and admin routes (:func:`dispatch`) and the browser client
    bundles; errors are always JSON ``{"error", "code"}``.
    """
    if path.startswith("/peerpyrtc/"):
        if method not in ("GET", "HEAD"):
            status, payload = 405, error_body(405, "use GET for the client bundles")
        else:
            data = bundle(path[len("/peerpyrtc/") :])
            if data is not None:
                return 200, JS_TYPE, data
            status, payload = 404, error_body(404, "no such file")
    else:
        status, payload = await dispatch(manager, method, path, body, metadata)
        if isinstance(payload, Text):
            return status, payload.content_type, payload.encode()
    return status, JSON_TYPE, json.dumps(payload, separators=(",", ":")).encode()
