"""aiohttp adapter: routes for an ``aiohttp.web.Application``.

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.aiohttp import add_routes

manager = AsyncSignalingManager()
add_routes(app, manager, prefix="/rtc")
app.on_shutdown.append(lambda app: manager.close())
"""

from __future__ import annotations

from typing import Any

from .._manager import AsyncSignalingManager
from .._web.routes import PATHS, SECURITY_HEADERS
from . import require

__all__ = ["add_routes"]


def add_routes(app: Any, manager: AsyncSignalingManager, prefix: str = "") -> None:
    """Add ``/offer``, ``/candidate``, ``/leave``, ``/rooms`` and the bundles under ``prefix``."""
    web = require("aiohttp.web", "aiohttp")
    prefix = prefix.rstrip("/")
    limit = manager.limits.max_body_bytes

    async def handle(request: Any) -> Any:
        path = request.path[len(prefix) :]
        body = b""
        while len(body) <= limit:  # respond answers 413 beyond
            chunk = await request.content.read(65536)
            if not chunk:
                break
            body += chunk
        meta = {
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote,
        }
        status, ctype, data = await manager.respond(request.method, path, body, meta)
        return web.Response(
            body=data, status=status, headers={"Content-Type": ctype, **dict(SECURITY_HEADERS)}
        )

    app.router.add_routes(
        [web.route("*", f"{prefix}{path}", handle) for path in (*PATHS, "/peerpyrtc/{name}")]
    )
