"""aiohttp adapter: routes for an ``aiohttp.web.Application``.

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.aiohttp import add_routes

manager = AsyncSignalingManager()
add_routes(app, manager, prefix="/rtc")
app.on_shutdown.append(lambda app: manager.close())
"""

from __future__ import annotations

from typing import Any

from .._assets import JS_TYPE, bundle
from .._manager import AsyncSignalingManager
from .._routes import dispatch
from . import require

__all__ = ["add_routes"]


def add_routes(app: Any, manager: AsyncSignalingManager, prefix: str = "") -> None:
    """Add ``/offer``, ``/candidate``, ``/leave``, ``/rooms`` and the bundles under ``prefix``."""
    web = require("aiohttp.web", "aiohttp")
    prefix = prefix.rstrip("/")

    async def handle(request: Any) -> Any:
        path = request.path[len(prefix) :]
        body = b""
        while len(body) <= manager.limits.max_body_bytes:  # dispatch answers 413 beyond
            chunk = await request.content.read(65536)
            if not chunk:
                break
            body += chunk
        meta = {
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote,
        }
        status, payload = await dispatch(manager, request.method, path, body, meta)
        return web.json_response(payload, status=status)

    async def client(request: Any) -> Any:
        data = bundle(request.match_info["name"])
        if data is None:
            return web.json_response({"error": "no such file"}, status=404)
        return web.Response(body=data, headers={"Content-Type": JS_TYPE})

    app.router.add_routes(
        [
            *(web.post(f"{prefix}/{name}", handle) for name in ("offer", "candidate", "leave")),
            web.get(f"{prefix}/rooms", handle),
            web.get(f"{prefix}/peerpyrtc/{{name}}", client),
        ]
    )
