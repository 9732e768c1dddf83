"""Mesh cursors: every page's mouse pointer, live on every other page, peer to peer.

Run: cd examples/mesh_cursors && python app.py   (then open http://localhost:5000 in two tabs)
Built on aiohttp. The room is a mesh: once two pages are introduced by the server, their
pointer moves travel on a direct DataChannel between them, not through this process: the
link's volatile channel (unordered, never retransmitted: a lost move is replaced by the next).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiohttp import web

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.aiohttp import add_routes

HERE = Path(__file__).resolve().parent
manager = AsyncSignalingManager(topology="mesh")


async def index(request: Any) -> web.FileResponse:
    return web.FileResponse(HERE / "index.html")


async def close_manager(app: web.Application) -> None:
    await manager.close()


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", index)
    add_routes(app, manager)
    app.on_cleanup.append(close_manager)
    return app


if __name__ == "__main__":
    import asyncio

    async def main() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", int(os.environ.get("PORT", 5000)))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"Serving on http://127.0.0.1:{port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
