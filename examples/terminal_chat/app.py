"""Terminal chat: the operator at this terminal talks with the browser pages.

Run: cd examples/terminal_chat && python app.py   (open http://localhost:5000, type here)
Built on aiohttp. Lines typed here go to the room; messages from pages print here.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from pathlib import Path

from aiohttp import web

from peerpyrtc import AsyncSignalingManager
from peerpyrtc.contrib.aiohttp import add_routes

HERE = Path(__file__).resolve().parent
ROOM = "operator"
#: Control characters (C0, DEL, C1): ANSI/OSC escapes would drive the operator's terminal.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """Peer text as the terminal may print it: control characters shown, never obeyed."""
    return CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


def read_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read the terminal in a thread (works in a plain tty, a pipe and tmux)."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main() -> None:
    manager = AsyncSignalingManager()

    @manager.message_handler
    def show(room: str, peer_id: str, message: str) -> None:
        name = next(
            (p.get("name") for p in manager.get_room_peers(room) if p["id"] == peer_id), None
        )
        print(f"{safe(name or peer_id)}: {safe(message)}", flush=True)

    @manager.peer_joined_handler
    def joined(room: str, peer_id: str, info: dict) -> None:
        print(f"* {safe(info.get('name') or peer_id)} joined", flush=True)

    @manager.peer_left_handler
    def left(room: str, peer_id: str, info: dict) -> None:
        print(f"* {safe(info.get('name') or peer_id)} left", flush=True)

    app = web.Application()
    add_routes(app, manager)
    app.router.add_get("/", lambda request: web.FileResponse(HERE / "index.html"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(os.environ.get("PORT", 5000)))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"Serving on http://127.0.0.1:{port}", flush=True)
    print(f"Type a line and press Enter to talk to room '{ROOM}'.", flush=True)

    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(
        target=read_lines, args=(asyncio.get_running_loop(), lines), daemon=True
    ).start()
    try:
        while (line := await lines.get()) is not None:
            if line.strip():
                count = await manager.send_message(ROOM, line)
                if not count:
                    print("(nobody is in the room yet)", flush=True)
        await asyncio.Event().wait()  # stdin closed: keep serving until interrupted
    finally:
        await runner.cleanup()
        await manager.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
