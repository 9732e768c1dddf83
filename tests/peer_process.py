"""A Python peer in its own process, for tests that kill or freeze it.

Usage: python peer_process.py URL ROOM PEER_ID [COUNT]
Prints "ready" once connected (COUNT peers: PEER_ID-0, PEER_ID-1, ...), then stays until
killed.
"""

from __future__ import annotations

import asyncio
import sys

from peerpyrtc import AsyncClient


async def main(url: str, room: str, peer_id: str, count: str | None = None) -> None:
    if count is None:
        clients = [AsyncClient(url, room, peer_id, max_reconnect_attempts=0)]
    else:
        clients = [
            AsyncClient(url, room, f"{peer_id}-{i}", max_reconnect_attempts=0)
            for i in range(int(count))
        ]
    await asyncio.gather(*(c.connect() for c in clients))
    print("ready", flush=True)
    await clients[0].wait_closed()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
