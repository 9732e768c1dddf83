"""FastAPI and Starlette adapter: an ``APIRouter``, and a plain ASGI app for any ASGI server.

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.fastapi import signaling_router, asgi_app

manager = AsyncSignalingManager()
app.include_router(signaling_router(manager), prefix="/rtc")   # FastAPI
# or, for Starlette or any ASGI framework:
app.mount("/rtc", asgi_app(manager))
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._assets import JS_TYPE, bundle
from .._manager import AsyncSignalingManager
from .._routes import dispatch
from . import require

__all__ = ["asgi_app", "signaling_router"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def signaling_router(manager: AsyncSignalingManager) -> Any:
    """A FastAPI ``APIRouter`` with the signalling routes and the client bundles."""
    fastapi = require("fastapi", "fastapi")
    responses = require("fastapi.responses", "fastapi")
    router = fastapi.APIRouter()

    async def handle(request: Any) -> Any:
        path = "/" + request.url.path.rstrip("/").rsplit("/", 1)[-1]
        body = await request.body()
        meta = {
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "remote_addr": request.client.host if request.client else None,
        }
        status, payload = await dispatch(manager, request.method, path, body, meta)
        return responses.JSONResponse(payload, status_code=status)

    handle.__annotations__ = {"request": fastapi.Request, "return": Any}  # for FastAPI's injection
    for name in ("offer", "candidate", "leave"):
        router.add_api_route(f"/{name}", handle, methods=["POST"], include_in_schema=False)
    router.add_api_route("/rooms", handle, methods=["GET"], include_in_schema=False)

    async def client(name: str) -> Any:
        data = bundle(name)
        if data is None:
            return responses.JSONResponse({"error": "no such file"}, status_code=404)
        return responses.Response(data, media_type=JS_TYPE)

    router.add_api_route("/peerpyrtc/{name}", client, methods=["GET"], include_in_schema=False)
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
        if scope["method"] == "GET" and path.startswith("/peerpyrtc/"):
            data = bundle(path[len("/peerpyrtc/") :])
            if data is not None:
                await _respond(send, 200, data, JS_TYPE)
                return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                break
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        meta = {"headers": headers, "remote_addr": client[0] if client else None}
        status, payload = await dispatch(manager, scope["method"], path, body, meta)
        await _respond(send, status, json.dumps(payload).encode(), "application/json")

    return app


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
