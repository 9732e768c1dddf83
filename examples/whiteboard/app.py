"""Collaborative whiteboard: strokes sync live, late joiners get the drawing, the host clears.

Run: cd examples/whiteboard && python app.py   (then open http://localhost:5000 in two tabs)
Built on FastAPI served by uvicorn. The server keeps each room's strokes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import FileResponse

from peerpyrtc import AsyncSignalingManager, Message
from peerpyrtc.contrib.fastapi import signaling_router

HERE = Path(__file__).resolve().parent
MAX_STROKES = 20_000

manager = AsyncSignalingManager()
drawings: dict[str, list[Any]] = {}


def is_host(room: str, peer_id: str) -> bool:
    return any(p["id"] == peer_id and p["isHost"] for p in manager.get_room_peers(room))


@manager.before_relay
def only_the_host_clears(message: Message) -> Message | None:
    if message.event == "clear" and not is_host(message.room, message.sender_id):
        return None
    return message


@manager.on("stroke")
def keep_stroke(room: str, sender_id: str, stroke: Any) -> None:
    strokes = drawings.setdefault(room, [])
    if len(strokes) < MAX_STROKES:
        strokes.append(stroke)


@manager.on("clear")
def clear(room: str, sender_id: str, data: Any) -> None:
    drawings.pop(room, None)


def chunks(items: list[Any], budget: int = 60_000) -> list[list[Any]]:
    """Split ``items`` into lists whose JSON fits one message (65,000 bytes at most)."""
    out: list[list[Any]] = [[]]
    size = 0
    for item in items:
        n = len(json.dumps(item).encode()) + 1
        if out[-1] and size + n > budget:
            out.append([])
            size = 0
        out[-1].append(item)
        size += n
    return out


@manager.peer_joined_handler
async def send_drawing(room: str, peer_id: str, info: dict[str, Any]) -> None:
    # a late joiner gets the drawing so far, in as many messages as it takes
    for i, part in enumerate(chunks(list(drawings.get(room, [])))):
        await manager.emit(room, "drawing", {"strokes": part, "first": i == 0}, to=peer_id)


@manager.peer_left_handler
def forget_empty_rooms(room: str, peer_id: str, info: dict[str, Any]) -> None:
    if not manager.get_room_peers(room):
        drawings.pop(room, None)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await manager.close()


app = FastAPI(title="PeerPyRTC whiteboard", lifespan=lifespan)
app.include_router(signaling_router(manager))


@app.get("/")
async def index() -> FileResponse:
    return FileResponse(HERE / "index.html")


if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(os.environ.get("PORT", 5000))))
    print(f"Serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none")).run(sockets=[sock])
