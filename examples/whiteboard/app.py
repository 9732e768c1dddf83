"""Collaborative whiteboard: strokes sync live, late joiners get the drawing, the host clears.

Run: cd examples/whiteboard && python app.py   (then open http://localhost:5000 in two tabs)
Built on FastAPI served by uvicorn. While the pen moves, pages send segments on the volatile
channel (dropped rather than late); when it lifts, the whole stroke goes reliably, and the
server keeps it for late joiners, who get the drawing in one (large) message.
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
#: What the server keeps of a room's drawing (a late joiner gets it as one message: 16 MiB max).
MAX_DRAWING_BYTES = 12 * 1024 * 1024
MAX_POINTS = 2_000

manager = AsyncSignalingManager()
drawings: dict[str, list[Any]] = {}
sizes: dict[str, int] = {}


def is_host(room: str, peer_id: str) -> bool:
    return any(p["id"] == peer_id and p["isHost"] for p in manager.get_room_peers(room))


def _point(p: Any) -> bool:
    return (
        isinstance(p, list)
        and len(p) == 2
        and all(type(v) is int and -10_000 <= v <= 10_000 for v in p)
    )


def _color(c: Any) -> bool:
    return (
        isinstance(c, str)
        and len(c) == 7
        and c[0] == "#"
        and all(ch in "0123456789abcdefABCDEF" for ch in c[1:])
    )


def valid(event: str | None, data: Any) -> bool:
    """What pages may draw: a segment ``{c, a, b}`` or a stroke ``{c, pts}``, nothing else."""
    if not isinstance(data, dict) or not _color(data.get("c")):
        return False
    if event == "segment":
        return set(data) == {"c", "a", "b"} and _point(data["a"]) and _point(data["b"])
    pts = data.get("pts")
    return (
        set(data) == {"c", "pts"}
        and isinstance(pts, list)
        and 2 <= len(pts) <= MAX_POINTS
        and all(map(_point, pts))
    )


@manager.before_relay
def moderate(message: Message) -> Message | None:
    if message.event == "clear":  # only the host clears the board
        return message if is_host(message.room, message.sender_id) else None
    if message.event in ("segment", "stroke"):
        return message if valid(message.event, message.data) else None
    return None  # nothing else is relayed


@manager.on("stroke")
def keep_stroke(room: str, sender_id: str, stroke: Any) -> None:
    size = len(json.dumps(stroke))
    if sizes.get(room, 0) + size <= MAX_DRAWING_BYTES:  # past it, strokes are live only
        drawings.setdefault(room, []).append(stroke)
        sizes[room] = sizes.get(room, 0) + size


@manager.on("clear")
def clear(room: str, sender_id: str, data: Any) -> None:
    drawings.pop(room, None)
    sizes.pop(room, None)


@manager.peer_joined_handler
async def send_drawing(room: str, peer_id: str, info: dict[str, Any]) -> None:
    # a late joiner gets the drawing so far in one message (the library splits it into
    # frames and puts it back together)
    strokes = list(drawings.get(room, []))
    if strokes:
        await manager.emit(room, "drawing", {"strokes": strokes}, to=peer_id)


@manager.peer_left_handler
def forget_empty_rooms(room: str, peer_id: str, info: dict[str, Any]) -> None:
    if not manager.get_room_peers(room):
        clear(room, peer_id, None)


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
