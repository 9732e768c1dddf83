"""Multi-room chat: Flask, SQLite history, a word filter, presence with a host badge, images.

Run: cd examples/chat && python app.py   (then open http://localhost:5000 in two tabs)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from peerpyrtc import Message, SignalingManager
from peerpyrtc.contrib.flask import signaling_blueprint

HERE = Path(__file__).resolve().parent
DB_PATH = Path(os.environ.get("CHAT_DB", HERE / "chat.db"))
BANNED = re.compile(r"\b(darn|heck|spam)\b", re.IGNORECASE)
HISTORY = 50
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}

app = Flask(__name__)
signaling_manager = SignalingManager()
app.register_blueprint(signaling_blueprint(signaling_manager))

db_lock = threading.Lock()
db = sqlite3.connect(DB_PATH, check_same_thread=False)
db.execute("CREATE TABLE IF NOT EXISTS messages (room TEXT, name TEXT, text TEXT, at REAL)")
db.commit()


def display_name(room: str, peer_id: str) -> str:
    for peer in signaling_manager.get_room_peers(room):  # hooks run off the loop
        if peer["id"] == peer_id:
            return str(peer.get("name") or peer_id)
    return peer_id


@signaling_manager.before_relay
async def word_filter(message: Message) -> Message:
    """Moderation: mask banned words before anyone sees them, and show the sender what the
    room saw (its own line shows the masked text too)."""
    if message.kind == "message" and BANNED.search(message.data):
        masked = BANNED.sub(lambda m: "*" * len(m[0]), message.data)
        await signaling_manager.async_manager.emit(
            message.room, "filtered", {"sent": message.data, "shown": masked},
            to=message.sender_id,
        )  # fmt: skip
        return dataclasses.replace(message, data=masked)
    return message


@signaling_manager.before_relay
def only_images(message: Message) -> Message | None:
    """An ``image`` event is a name, an image type and the bytes (relayed live, not kept in
    the history); anything else under that name is dropped."""
    if message.event != "image":
        return message
    img = message.data
    ok = (
        isinstance(img, dict)
        and set(img) == {"name", "type", "data"}
        and isinstance(img["name"], str)
        and 0 < len(img["name"]) <= 200
        and img["type"] in IMAGE_TYPES
        and isinstance(img["data"], bytes)
        and len(img["data"]) <= MAX_IMAGE_BYTES
    )
    return message if ok else None


@signaling_manager.message_handler
def save(room: str, peer_id: str, message: str) -> None:
    with db_lock:
        db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?)",
            (room, display_name(room, peer_id), message, time.time()),
        )
        db.commit()


@signaling_manager.peer_joined_handler
async def send_history(room: str, peer_id: str, peer_info: dict) -> None:
    with db_lock:
        rows = db.execute(
            "SELECT name, text, at FROM messages WHERE room = ? ORDER BY at DESC LIMIT ?",
            (room, HISTORY),
        ).fetchall()
    history = [{"name": n, "text": clip(t), "at": a} for n, t, a in reversed(rows)]
    # sent in parts that each fit one message (65,000 bytes): one long line cannot break it
    part: list[dict[str, object]] = []
    for row in history:
        if part and len(json.dumps([*part, row]).encode()) > 60_000:
            await signaling_manager.async_manager.emit(room, "history", part, to=peer_id)
            part = []
        part.append(row)
    if part:
        await signaling_manager.async_manager.emit(room, "history", part, to=peer_id)


def clip(text: str, limit: int = 4000) -> str:
    """A history line as later joiners see it (the full text was relayed live)."""
    return text if len(text) <= limit else text[:limit] + "…"


@app.get("/")
def index() -> tuple[bytes, int, dict[str, str]]:
    return (HERE / "index.html").read_bytes(), 200, {"Content-Type": "text/html; charset=utf-8"}


if __name__ == "__main__":
    server = make_server("127.0.0.1", int(os.environ.get("PORT", 5000)), app, threaded=True)
    print(f"Serving on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signaling_manager.close()
