"""What the server says, applied to a client session (the browser client's ``inbound.js``).

:class:`ClientSession` is the state one server session has on the client side (the room,
the mesh, the welcome awaited, pings in flight, whether a reconnect is allowed) and the
callables through which it reaches its owner: ``AsyncClient`` builds one and hands it the
few things it needs; this module never sees the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .._errors import ProtocolError
from .._wire import protocol
from .._wire.binary import Reassembly, decode_body, parse_frame, parse_header
from .codec import (
    Abort,
    Close,
    HostChanged,
    Joined,
    Left,
    Ping,
    Pong,
    Relayed,
    ServerEnvelope,
    Signal,
    Welcome,
    parse_server_frame,
)
from .mesh import ClientMesh
from .room import ClientRoom

__all__ = ["ClientSession", "Progress", "on_envelope", "on_frame"]

#: ``(sender, event, bytes received, total)``: a large message arriving.
Progress = Callable[[str, "str | None", int, int], None]
#: Large messages a client reassembles at once, and the bytes it holds for them.
MAX_INCOMING = 64
MAX_INCOMING_BYTES = 128 * 1024 * 1024

logger = logging.getLogger(__name__)


class ClientSession:
    """One client's side of its server session.

    Args:
        deliver: ``(sender, event, data)``: a relayed message for the application.
        notify: ``("joined" | "left", peer)`` or ``("update", None)``: the room changed.
        server_closed: ``(reason)``: the server hung up (``may_reconnect`` says if we return).
        reply: ``(encoded envelope)``: send this to the server now (a pong).
        error: ``(code, message)``: the server reported an error.
    """

    def __init__(
        self,
        room: ClientRoom,
        mesh: ClientMesh,
        deliver: Callable[[str, str | None, Any], None],
        notify: Callable[[str, dict[str, Any] | None], None],
        server_closed: Callable[[str | None], None],
        reply: Callable[[str], None],
        error: Callable[[str, str], None],
    ) -> None:
        self.room = room
        self.mesh = mesh
        self.deliver = deliver
        self.notify = notify
        self.server_closed = server_closed
        self.reply = reply
        self.error = error
        #: Resolved by the welcome of the connection being opened.
        self.welcome: asyncio.Future[None] | None = None
        #: Pings in flight, by token.
        self.pings: dict[str, asyncio.Future[None]] = {}
        #: False once the server said not to come back (kicked, replaced).
        self.may_reconnect = True
        #: Largest message body the server takes (from its welcome; 0: text only).
        self.max_body = 0
        #: Large messages arriving, by (sender, message id).
        self.incoming = Reassembly(MAX_INCOMING, MAX_INCOMING_BYTES)
        #: Told of each frame of a large message that arrives.
        self.progress: Progress | None = None


def on_frame(session: ClientSession, frame: str | bytes, name: str) -> None:
    """Parse one frame from the server and apply its envelopes (``name``: for the log)."""
    if not isinstance(frame, str):
        try:
            on_binary(session, frame)
        except ProtocolError as exc:
            logger.warning("%s: a binary frame from the server: %s", name, exc)
        return
    try:
        envelopes, problems = parse_server_frame(frame)
    except ProtocolError as exc:
        logger.warning("%s: %s", name, exc)
        return
    for problem in problems:
        logger.warning("%s: from the server: %s", name, problem)
    for env in envelopes:
        on_envelope(session, env)


def on_binary(session: ClientSession, frame: bytes) -> None:
    """A binary frame: a whole message, or a frame of a large one (delivered once whole)."""
    text, payload = parse_frame(frame)
    header = parse_header(text, server=True)
    sender = header.sender or ""
    if header.t == "part":
        first, got, body = session.incoming.part(sender, header, payload)
    elif header.m is None:
        if len(payload) != header.j + sum(header.b):
            raise ProtocolError("the payload's length must be 'j' plus the attachments")
        data = decode_body(header, payload)
        session.deliver(sender, header.event, data)
        return
    else:
        first, got, body = session.incoming.start(sender, header, payload)
    if session.progress is not None:
        session.progress(sender, first.event, got, first.z or 0)
    if body is not None:
        session.deliver(sender, first.event, decode_body(first, body))


def on_envelope(session: ClientSession, env: ServerEnvelope) -> None:
    """Apply one server envelope: callbacks, room state, mesh, replies."""
    room = session.room
    if isinstance(env, Relayed):  # the hot path: one unpack, then the callbacks
        _, sender, event, data, _ = env
        session.deliver(sender, event, data)
    elif isinstance(env, Welcome):
        session.may_reconnect = True
        session.max_body = env.max_body_bytes
        room.welcome(env)
        session.mesh.configure(env.topology, env.mesh_max_peers)
        welcome = session.welcome
        if welcome is not None and not welcome.done():
            welcome.set_result(None)
        session.notify("update", None)
    elif isinstance(env, Joined):
        session.notify("joined", room.joined(env))
        session.mesh.update()
        session.notify("update", None)
    elif isinstance(env, Left):  # the role it had when it left; the new host comes next
        session.incoming.drop_sender(env.peer["id"])
        session.notify("left", room.left(env))
        session.mesh.update()
        session.notify("update", None)
    elif isinstance(env, HostChanged):
        room.host(env)
        session.notify("update", None)
    elif isinstance(env, Pong):
        waiter = session.pings.get(env.data) if isinstance(env.data, str) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
    elif isinstance(env, Close):  # the server hangs up (and says whether to come back)
        session.may_reconnect = env.reconnect
        session.server_closed(env.reason)
    elif isinstance(env, Signal):
        session.mesh.on_signal(env.sender, env.data)
    elif isinstance(env, Ping):
        session.reply(protocol.pong(env.data))
    elif isinstance(env, Abort):
        session.incoming.drop((env.sender, env.message_id))
    else:  # ServerError
        session.error(env.code, env.message)
