"""What a TURN client (any stranger with minted credentials) can reach through coturn.

Usage: python turn_probe.py HOST PORT USERNAME PASSWORD TARGET:PORT [TARGET:PORT ...]
The last target must answer: once its echo of a probe sent after all the others is back,
every earlier echo (same relay, same path) is too, so no fixed wait is needed.
Allocates a UDP relay, sends one datagram to each target through it, and prints one JSON
line: the relay address, which targets answered (an echo came back through the relay),
and what a TCP relay allocation (RFC 6062) got: ``"tcp_relay"`` is the error code, or
``"allocated"``.

Or: python turn_probe.py HOST PORT USERNAME PASSWORD --flows N: tries N allocations at
once, each from its own socket, and prints ``{"allocated": how many within 3 s}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aioice import stun, turn


class Heard(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.barrier = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((addr[0], addr[1]))
        if data == b"barrier":
            self.barrier.set()


async def tcp_relay(host: str, port: int, username: str, password: str) -> str:
    """Ask for a TCP relay endpoint: upstream clients only ask for UDP, so change the one
    attribute aioice sets."""
    original = turn.UDP_TRANSPORT
    turn.UDP_TRANSPORT = 0x06000000  # REQUESTED-TRANSPORT: TCP
    try:
        transport, _ = await turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (host, port), username, password, transport="tcp"
        )
    except stun.TransactionFailed as exc:
        return str(exc.response.attributes.get("ERROR-CODE", ("?",))[0])
    except Exception as exc:
        return type(exc).__name__
    finally:
        turn.UDP_TRANSPORT = original
    transport.close()
    return "allocated"


async def flows(host: str, port: int, username: str, password: str, count: int) -> None:
    async def one() -> Any:
        return await asyncio.wait_for(turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (host, port), username, password), 3)  # fmt: skip

    made = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    print(json.dumps({"allocated": sum(not isinstance(m, BaseException) for m in made)}))
    for m in made:
        if not isinstance(m, BaseException):
            m[0].close()


async def main(host: str, port: str, username: str, password: str, *targets: str) -> None:
    if targets[0] == "--flows":
        await flows(host, int(port), username, password, int(targets[1]))
        return
    transport, heard = await turn.create_turn_endpoint(Heard, (host, int(port)), username, password)
    relay = transport.get_extra_info("sockname")  # the relayed address
    for target in targets:
        address, target_port = target.rsplit(":", 1)
        transport.sendto(b"probe", (address, int(target_port)))
    address, target_port = targets[-1].rsplit(":", 1)
    for _ in range(3):  # after the barrier's echo, every earlier one has arrived
        heard.barrier.clear()
        transport.sendto(b"barrier", (address, int(target_port)))
        await asyncio.wait_for(heard.barrier.wait(), 10)
    transport.close()
    answered = sorted({f"{a}:{p}" for a, p in heard.got})
    result = {"relay": list(relay) if relay else None, "answered": answered,
              "tcp_relay": await tcp_relay(host, int(port), username, password)}  # fmt: skip
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
