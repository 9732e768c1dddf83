"""The python-socketio reference server for the benchmarks (AsyncServer with rooms, aiohttp).

Run: python benchmarks/sio_server.py --port 0   (prints "serving on http://...")
     add --redis URL to share rooms through python-socketio's AsyncRedisManager.
Events: join(room) -> ack; msg(data) -> the rest of the room; batch([data...]) -> the rest
of the room as one event (the same application-level batching peerpyrtc does); any
other event (binary attachments included) -> the rest of the room.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import socketio
from aiohttp import web


async def main(port: int, redis: str | None, host: str = "127.0.0.1") -> None:
    manager = socketio.AsyncRedisManager(redis) if redis else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp", max_http_buffer_size=1 << 25, client_manager=manager
    )
    rooms: dict[str, str] = {}

    @sio.event
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        rooms[sid] = room
        return True

    @sio.event
    async def msg(sid: str, data: object) -> None:
        await sio.emit("msg", data, room=rooms.get(sid), skip_sid=sid)

    @sio.event
    async def batch(sid: str, data: object) -> None:
        await sio.emit("batch", data, room=rooms.get(sid), skip_sid=sid)

    @sio.on("*")
    async def other(event: str, sid: str, data: object) -> None:  # any other event: relayed
        await sio.emit(event, data, room=rooms.get(sid), skip_sid=sid)

    @sio.event
    async def disconnect(sid: str) -> None:
        rooms.pop(sid, None)

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"serving on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redis", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.redis, args.host))
