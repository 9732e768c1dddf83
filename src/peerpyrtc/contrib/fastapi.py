"""FastAPI and Starlette adapter: an ``APIRouter``, and a plain ASGI app for any ASGI server.

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.fastapi import signaling_router, asgi_app

manager = AsyncSignalingManager()
app.include_router(signaling_router(manager), prefix="/rtc")   # FastAPI
# or, for Starlette or any ASGI framework:
app.mount("/rtc", asgi_app(manager))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from .._manager import AsyncSignalingManager
from .._web.routes import METHODS, PATHS, SECURITY_HEADERS
from .._wire.http import parse_cookies
from . import require

__all__ = ["asgi_app", "signaling_router"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _read_bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read a body until it ends or passes ``limit`` (then :func:`respond` answers 413)."""
    body = b""
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            break
    return body


def signaling_router(manager: AsyncSignalingManager) -> Any:
    """A FastAPI ``APIRouter`` with the signalling routes and the client bundles."""
    fastapi = require("fastapi", "fastapi")
    responses = require("fastapi.responses", "fastapi")
    router = fastapi.APIRouter()
    limit = manager.limits.max_body_bytes

    def route(path: str) -> Any:
        async def handle(request: Any) -> Any:
            name = request.path_params.get("name", "")
            body = await _read_bounded(request.stream(), limit)
            meta = {
                "headers": dict(request.headers),
                "cookies": dict(request.cookies),
                "remote_addr": request.client.host if request.client else None,
            }
            status, ctype, data = await manager.respond(
                request.method, path.replace("{name}", name), body, meta
            )
            return responses.Response(
                data, status_code=status, media_type=ctype, headers=dict(SECURITY_HEADERS)
            )

        handle.__annotations__ = {"request": fastapi.Request, "return": Any}  # for injection
        return handle

    for path in (*PATHS, "/peerpyrtc/{name}"):
        router.add_api_route(path, route(path), methods=list(METHODS), include_in_schema=False)
    return router


def asgi_app(manager: AsyncSignalingManager) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A dependency-free ASGI app serving the same routes (mount it under any prefix)."""
    limit = manager.limits.max_body_bytes

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await manager.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        body = await _read_bounded(chunks(), limit)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        meta = {
            "headers": headers,
            "cookies": parse_cookies(headers.get("cookie", "")),
            "remote_addr": client[0] if client else None,
        }
        status, ctype, data = await manager.respond(scope["method"], path, body, meta)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", str(len(data)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app
