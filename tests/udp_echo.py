"""UDP echo servers (stand-ins for services on the VM), one per ADDR:PORT; prints "ready".

Usage: python udp_echo.py ADDR:PORT [ADDR:PORT ...]
"""

from __future__ import annotations

import asyncio
import sys


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def main(*where: str) -> None:
    loop = asyncio.get_running_loop()
    for item in where:
        address, port = item.rsplit(":", 1)
        await loop.create_datagram_endpoint(Echo, local_addr=(address, int(port)))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
