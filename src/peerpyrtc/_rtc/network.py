"""Where the server's ICE sockets live, and which address its answers announce.

* ``public_ip``: the server sits behind 1:1 NAT (a cloud VM): host candidates
  of that address family in every answer carry the public address instead of
  the private one (the port stays: 1:1 NAT keeps it). With ``keep_private``
  the private ones follow, at a lower priority: a TURN server on the same VM
  (which cannot reach the public address from inside) relays to them.
* ``udp_ports=(low, high)``: every peer connection's host sockets are bound
  inside that range, so a firewall needs one rule.
* ``udp_port=N``: all peer connections share one socket per address
  (:mod:`._udpmux`), so a firewall needs one open port.

aioice binds host sockets on port 0 and offers no hook for it, so for the two
port options this module gathers a connection's host candidates itself, between
``setRemoteDescription`` and ``setLocalDescription`` (aiortc's own gathering
then finds the work done). It does what ``Connection.get_component_candidates``
does, with other sockets, and only on the aioice versions it was checked
against (:data:`CHECKED_VERSIONS`); it is applied to the manager's own peer
connections only, never on import, and ``tests/system/test_network.py`` checks that
its candidates match upstream's but for the ports. The upstream fix would be a
socket factory (or port range) argument on ``aioice.Connection``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any

import aioice
from aioice import Candidate, candidate, ice

from .._errors import Unavailable
from .udpmux import UdpMux

__all__ = ["CHECKED_VERSIONS", "ServerNetwork", "parse_port_range"]

logger = logging.getLogger(__name__)

CHECKED_VERSIONS = frozenset({"0.10.2", "0.13.0"})
_NEEDS = ("StunProtocol", "get_host_addresses", "server_reflexive_candidate")
GATHER_TIMEOUT = 5.0  # as aioice's get_component_candidates


def parse_port_range(value: str | tuple[int, int]) -> tuple[int, int]:
    """``"50000-50100"`` or ``(50000, 50100)`` -> ``(50000, 50100)``; ValueError otherwise."""
    if isinstance(value, str):
        low_text, sep, high_text = value.partition("-")
        if not sep or not low_text.strip().isdigit() or not high_text.strip().isdigit():
            raise ValueError(f"a UDP port range looks like 50000-50100, not {value!r}")
        low, high = int(low_text), int(high_text)
    else:
        low, high = value
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high <= 65535):
        raise ValueError(f"a UDP port range is LOW-HIGH with 1 <= LOW <= HIGH <= 65535: {value!r}")
    return low, high


def gathering_supported() -> bool:
    return (
        aioice.__version__ in CHECKED_VERSIONS
        and all(hasattr(ice, n) for n in _NEEDS)
        and hasattr(candidate, "candidate_foundation")
    )


class ServerNetwork:
    """The server's side of the network: announced address and ICE socket placement."""

    def __init__(
        self,
        *,
        public_ip: str | None = None,
        udp_ports: str | tuple[int, int] | None = None,
        udp_port: int | None = None,
        keep_private: bool = False,
    ) -> None:
        self.keep_private = keep_private
        self.public_ip: str | None = None
        self._public_version = 0
        if public_ip is not None:
            try:
                parsed = ipaddress.ip_address(public_ip)
            except ValueError:
                raise ValueError(f"public_ip must be an IP address, not {public_ip!r}") from None
            self.public_ip, self._public_version = str(parsed), parsed.version
        if udp_ports is not None and udp_port is not None:
            raise ValueError("udp_ports (a range) and udp_port (one port) exclude each other")
        self.port_range = parse_port_range(udp_ports) if udp_ports is not None else None
        self.mux = UdpMux(udp_port) if udp_port is not None else None
        if (self.port_range or self.mux) and not gathering_supported():
            raise ValueError(
                f"udp_ports/udp_port were checked against aioice {sorted(CHECKED_VERSIONS)}; "
                f"this is aioice {aioice.__version__}"
            )
        self._cursor = 0  # where the next range search starts: ports are reused last

    async def start(self) -> None:
        if self.mux is not None:
            await self.mux.start()

    async def close(self) -> None:
        if self.mux is not None:
            await self.mux.close()

    # ------------------------------------------------------------ gathering
    async def prepare(self, pc: Any) -> None:
        """Gather host candidates in the range or on the shared port (after the remote SDP)."""
        if self.port_range is None and self.mux is None:
            return
        await self.start()
        transports = {t.receiver.transport.transport for t in pc.getTransceivers()}
        if pc.sctp is not None:
            transports.add(pc.sctp.transport.transport)
        for transport in transports:
            await self._gather(transport.iceGatherer._connection)

    async def _gather(self, connection: ice.Connection) -> None:
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        if self.mux is not None:
            addresses = self.mux.addresses
        else:
            addresses = ice.get_host_addresses(
                use_ipv4=connection._use_ipv4, use_ipv6=connection._use_ipv6
            )
        for component in sorted(connection._components):
            protocols = []
            for address in addresses:
                protocol = await self._open(connection, address)
                if protocol is None:
                    continue
                connection._protocols.append(protocol)  # closed with the connection
                host, port = protocol.transport.get_extra_info("sockname")[:2]
                protocol.local_candidate = Candidate(
                    foundation=candidate.candidate_foundation("host", "udp", host),
                    component=component,
                    transport="udp",
                    priority=candidate.candidate_priority(component, "host"),
                    host=host,
                    port=port,
                    type="host",
                )
                protocols.append(protocol)
            connection._local_candidates += [p.local_candidate for p in protocols]
            found = await _server_candidates(connection, component, protocols)
            connection._local_candidates += found
        connection._local_candidates_end = True

    async def _open(self, connection: ice.Connection, address: str) -> ice.StunProtocol | None:
        if self.mux is not None:
            return self.mux.open(connection, address)
        assert self.port_range is not None
        low, high = self.port_range
        count = high - low + 1
        start = self._cursor
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for step in range(count):
            port = low + (start + step) % count
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((address, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._cursor = (start + step + 1) % count
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_datagram_endpoint(
                lambda: ice.StunProtocol(connection), sock=sock
            )
            return protocol
        logger.warning("every UDP port in %d-%d is in use on %s", low, high, address)
        raise Unavailable(f"no free UDP port in {low}-{high}: too many connections for the range")

    # ------------------------------------------------------------ announcing
    def announce(self, sdp: str) -> str:
        """The answer as clients must see it: host candidates carry the public address."""
        if self.public_ip is None:
            return sdp
        lines, seen = [], set()
        for line in sdp.split("\r\n"):
            if line.startswith("a=candidate:"):
                parts = line.split()
                if len(parts) >= 8 and parts[7] == "host" and self._same_family(parts[4]):
                    private = list(parts)
                    parts[4] = self.public_ip
                    key = (parts[1], parts[2].lower(), parts[5])
                    if key not in seen:  # two private addresses on one shared port: once
                        seen.add(key)
                        lines.append(" ".join(parts))
                    if self.keep_private:  # after it, and tried after it
                        private[3] = str(max(int(private[3]) - 256, 1))
                        lines.append(" ".join(private))
                    continue
            elif line.startswith("c=IN IP") and self._same_family(line.split()[-1]):
                line = f"c=IN IP{self._public_version} {self.public_ip}"
            lines.append(line)
        return "\r\n".join(lines)

    def _same_family(self, address: str) -> bool:
        try:
            return ipaddress.ip_address(address).version == self._public_version
        except ValueError:
            return False


async def _server_candidates(
    connection: ice.Connection, component: int, protocols: list[ice.StunProtocol]
) -> list[Candidate]:
    """Server-reflexive (STUN) and relayed (TURN) candidates, as aioice gathers them."""
    tasks: list[asyncio.Future[Any]] = []
    if connection.stun_server:
        tasks += [
            asyncio.ensure_future(ice.server_reflexive_candidate(p, connection.stun_server))
            for p in protocols
            if ipaddress.ip_address(p.local_candidate.host).version == 4
        ]
    relayed: asyncio.Future[list[Candidate]] | None = None
    if connection.turn_server:  # upstream's own code path, with no host sockets to add
        relayed = asyncio.ensure_future(
            connection.get_component_candidates(component=component, addresses=[])
        )
    found: list[Candidate] = []
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=GATHER_TIMEOUT)
        found += [t.result()[0] for t in done if t.exception() is None]
        for task in pending:
            task.cancel()
    if relayed is not None:
        found += await relayed
    return found
