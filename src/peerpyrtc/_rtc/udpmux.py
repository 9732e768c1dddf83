"""Single-UDP-port mode: every peer connection's ICE traffic on one socket per address.

A server behind a strict firewall then needs exactly one open UDP port. As in
pion's ``UDPMux`` and LiveKit, datagrams are demultiplexed (RFC 7983 by first
byte, then):

* a STUN request goes to the connection whose local ICE username fragment
  opens its ``USERNAME``; once its MESSAGE-INTEGRITY checks out with that
  connection's password, its source address is learned for that connection
  (at most :data:`MAX_ADDRESSES` per connection, oldest forgotten). An address another
  live connection proved its own within :data:`CONSENT_SECONDS` (a STUN request with
  its integrity from there: ICE consent checks come every few seconds) is not moved: a
  client cannot take a victim's address by spoofing it as the source of its own checks;
* a STUN response goes to the connection that has that transaction open;
* anything else (DTLS, SCTP inside it) goes by source address, and is dropped
  (and counted) when no connection learned that address.

A client that does not know a connection's username fragment and password
(both only in the SDP its own client received) cannot get a datagram to it.
Each connection sees an ``aioice.StunProtocol`` as usual, over a
:class:`MuxTransport` whose ``sendto`` writes on the shared socket.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from collections import OrderedDict
from typing import Any, cast

from aioice import ice, stun

from .._errors import Unavailable

__all__ = ["MAX_ADDRESSES", "MuxTransport", "UdpMux"]

logger = logging.getLogger(__name__)

#: Remote addresses one connection may be reached from (ICE tries a few pairs).
MAX_ADDRESSES = 8
#: How long an address stays its connection's after that connection last proved it there
#: (ICE consent freshness, RFC 7675: a connection silent for 30 s is gone).
CONSENT_SECONDS = 30.0
_RCVBUF = 4 * 1024 * 1024


class MuxTransport(asyncio.DatagramTransport):
    """One connection's view of a shared socket."""

    def __init__(self, shared: _SharedSocket, protocol: ice.StunProtocol) -> None:
        super().__init__()
        self._shared = shared
        self._protocol = protocol
        self._closing = False

    def sendto(self, data: Any, addr: Any = None) -> None:
        if not self._closing and self._shared.transport is not None:
            self._shared.transport.sendto(data, addr)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._shared.unregister(self._protocol)
        asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self._closing

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return self._shared.sockname
        return default  # not the shared socket: per-peer code must not tune it


class _SharedSocket(asyncio.DatagramProtocol):
    def __init__(self, mux: UdpMux) -> None:
        self.mux = mux
        self.transport: asyncio.DatagramTransport | None = None
        self.sockname: tuple[Any, ...] = ()
        self.by_ufrag: dict[str, ice.StunProtocol] = {}
        self.by_addr: dict[tuple[str, int], ice.StunProtocol] = {}
        self.addrs: dict[ice.StunProtocol, OrderedDict[tuple[str, int], None]] = {}
        #: address -> when its connection last sent a request with integrity from there
        self.proved: dict[tuple[str, int], float] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.sockname = transport.get_extra_info("sockname")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, _RCVBUF)

    def register(self, protocol: ice.StunProtocol, ufrag: str) -> None:
        self.by_ufrag[ufrag] = protocol
        self.addrs[protocol] = OrderedDict()

    def unregister(self, protocol: ice.StunProtocol) -> None:
        for ufrag in [u for u, p in self.by_ufrag.items() if p is protocol]:
            del self.by_ufrag[ufrag]
        for addr in self.addrs.pop(protocol, ()):
            if self.by_addr.get(addr) is protocol:
                del self.by_addr[addr]
                self.proved.pop(addr, None)

    def learn(self, protocol: ice.StunProtocol, addr: tuple[str, int]) -> None:
        known = self.addrs.get(protocol)
        if known is None:
            return
        previous = self.by_addr.get(addr)
        if previous is not None and previous is not protocol and previous in self.addrs:
            self.addrs[previous].pop(addr, None)
        self.by_addr[addr] = protocol
        known[addr] = None
        known.move_to_end(addr)
        while len(known) > MAX_ADDRESSES:
            old, _ = known.popitem(last=False)
            if self.by_addr.get(old) is protocol:
                del self.by_addr[old]
                self.proved.pop(old, None)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        addr = (addr[0], addr[1])
        if data and data[0] < 4:  # STUN (RFC 7983)
            self._stun_received(data, addr)
            return
        protocol = self.by_addr.get(addr)
        if protocol is None:
            self.mux.dropped += 1
            return
        protocol.datagram_received(data, addr)

    def _stun_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            self.mux.dropped += 1
            return
        protocol: ice.StunProtocol | None = None
        if message.message_class == stun.Class.REQUEST:
            username = message.attributes.get("USERNAME")
            if isinstance(username, str):
                protocol = self.by_ufrag.get(username.split(":", 1)[0])
            if protocol is not None:
                key = protocol.receiver.local_password.encode("utf8")
                if _integrity_ok(data, message, key):  # else aioice answers with an error
                    owner = self.by_addr.get(addr)
                    now = time.monotonic()
                    if owner is not protocol:
                        if owner in self.addrs and now - self.proved.get(addr, -1e9) < (
                            CONSENT_SECONDS
                        ):  # a live connection's address: not another's to take
                            self.mux.dropped += 1
                            return
                        self.learn(protocol, addr)
                    self.proved[addr] = now
        elif message.message_class in (stun.Class.RESPONSE, stun.Class.ERROR):
            tid = message.transaction_id
            protocol = self.by_addr.get(addr)
            if protocol is None or tid not in protocol.transactions:
                protocol = next((p for p in self.addrs if tid in p.transactions), None)
        else:
            protocol = self.by_addr.get(addr)
        if protocol is None:
            self.mux.dropped += 1
            return
        protocol.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP mux socket %s: %s", self.sockname, exc)


def _same(shared: _SharedSocket) -> _SharedSocket:
    return shared


def _integrity_ok(data: bytes, message: stun.Message, key: bytes) -> bool:
    check = getattr(message, "check_message_integrity", None)
    if check is not None:  # aioice >= 0.11
        return bool(check(key))
    try:  # aioice 0.10: parse_message checks it when given the key
        stun.parse_message(data, integrity_key=key)  # type: ignore[call-arg, unused-ignore]
    except ValueError:
        return False
    return True


class UdpMux:
    """One UDP socket on ``port`` for each host address, shared by every connection."""

    def __init__(self, port: int, *, addresses: list[str] | None = None) -> None:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ValueError(f"udp_port must be a port number (1-65535), not {port!r}")
        self.port = port
        self._addresses = addresses
        self._sockets: dict[str, _SharedSocket] = {}
        self._starting: asyncio.Future[None] | None = None
        #: Datagrams no connection could claim (scans, stale peers, spoofed sources).
        self.dropped = 0

    @property
    def addresses(self) -> list[str]:
        return list(self._sockets)

    async def start(self) -> None:
        """Bind the shared sockets (once); raises Unavailable if the port is taken."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._bind())
        await asyncio.shield(self._starting)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        addresses = self._addresses
        if addresses is None:
            addresses = ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
        for address in addresses:
            shared = _SharedSocket(self)
            try:
                await loop.create_datagram_endpoint(
                    functools.partial(_same, shared), local_addr=(address, self.port)
                )
            except OSError as exc:
                await self.close()
                self._starting = None  # a later start() tries again
                why = f"cannot bind UDP {address} port {self.port}: {exc.strerror}"
                raise Unavailable(why) from exc
            self._sockets[address] = shared
        logger.info("single UDP port %d on %s", self.port, ", ".join(self._sockets) or "no address")

    def open(self, connection: ice.Connection, address: str) -> ice.StunProtocol | None:
        """A protocol for ``connection`` on the shared socket of ``address`` (None if none)."""
        shared = self._sockets.get(address)
        if shared is None or shared.transport is None:
            return None
        protocol = ice.StunProtocol(connection)
        shared.register(protocol, connection.local_username)
        protocol.connection_made(MuxTransport(shared, protocol))
        return protocol

    def connections(self) -> int:
        """How many ICE connections use the shared port now."""
        return len({p.receiver for s in self._sockets.values() for p in s.addrs})

    async def close(self) -> None:
        for shared in self._sockets.values():
            if shared.transport is not None:
                shared.transport.close()
        self._sockets.clear()
