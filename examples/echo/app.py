"""Echo: a connectivity test that shows round-trip times in milliseconds.

Run: cd examples/echo && python app.py   (then open http://localhost:5000)
Built on Starlette (plain ASGI) served by uvicorn.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.fastapi import asgi_app

HERE = Path(__file__).resolve().parent
manager = AsyncSignalingManager()


@manager.on("echo")
async def echo(room: str, sender_id: str, data: Any) -> None:
    """Send every 'echo' straight back to its sender."""
    await manager.emit(room, "echo", data, to=sender_id)


async def index(request: Any) -> FileResponse:
    return FileResponse(HERE / "index.html")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await manager.close()


app = Starlette(routes=[Route("/", index), Mount("/", app=asgi_app(manager))], lifespan=lifespan)

if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("PORT", 5000))))
    print(f"Serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none")).run(sockets=[sock])
