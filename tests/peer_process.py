"""A Python peer in its own process, for tests that kill or freeze it.

Usage: python peer_process.py URL ROOM PEER_ID
Prints "ready" once connected, then stays until killed.
"""

from __future__ import annotations

import asyncio
import sys

from peerpyrtc import AsyncClient


async def main(url: str, room: str, peer_id: str) -> None:
    client = AsyncClient(url, room, peer_id, max_reconnect_attempts=0)
    await client.connect()
    print("ready", flush=True)
    await client.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
