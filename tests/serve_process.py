"""A signalling server in its own process (tests freeze it with SIGSTOP).

Usage: python serve_process.py TOPOLOGY
Serves a blank page with the client bundle at /, prints "serving on URL", runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from browser_support import BLANK_PAGE
from peerpyrtc import AsyncSignalingManager, start_server


async def main(topology: str) -> None:
    manager = AsyncSignalingManager(topology=topology)
    server = await start_server(manager, index_html=BLANK_PAGE)
    print(f"serving on {server.url}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    await manager.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
