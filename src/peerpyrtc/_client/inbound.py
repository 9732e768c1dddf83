"""What the server says, applied to an ``AsyncClient`` (the browser client's ``inbound.js``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._wire import protocol
from .codec import (
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
)

if TYPE_CHECKING:
    from .client import AsyncClient

__all__ = ["on_envelope"]

logger = logging.getLogger("peerpyrtc._client.client")


def on_envelope(client: AsyncClient, env: ServerEnvelope) -> None:
    """Apply one server envelope to ``client``: callbacks, room state, mesh, replies."""
    room = client._room
    if isinstance(env, Relayed):  # the hot path: one unpack, then the callbacks
        _, sender, event, data, _ = env
        client._call(client.on_message, sender, data, event)
        client._emit(event or "message", sender, data)
    elif isinstance(env, Welcome):
        client._may_reconnect = True
        room.welcome(env)
        client._mesh.configure(env.topology, env.mesh_max_peers)
        if client._welcome is not None and not client._welcome.done():
            client._welcome.set_result(None)
        client._call(client.on_room_update, client.peers)
    elif isinstance(env, Joined):
        client._call(client.on_peer_joined, room.joined(env))
        client._mesh.update()
        client._call(client.on_room_update, client.peers)
    elif isinstance(env, Left):  # the role it had when it left; the new host comes next
        client._call(client.on_peer_left, room.left(env))
        client._mesh.update()
        client._call(client.on_room_update, client.peers)
    elif isinstance(env, HostChanged):
        room.host(env)
        client._call(client.on_room_update, client.peers)
    elif isinstance(env, Pong):
        waiter = client._pings.get(env.data) if isinstance(env.data, str) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
    elif isinstance(env, Close):  # the server hangs up (and says whether to come back)
        client.close_reason = env.reason
        client._may_reconnect = env.reconnect
        client._lost(client._generation, env.reason or "closed by the server")
    elif isinstance(env, Signal):
        client._mesh.on_signal(env.sender, env.data)
    elif isinstance(env, Ping):
        if client._queue is not None:
            client._queue.put(protocol.pong(env.data))
    else:  # ServerError
        logger.warning("%s: server error %s: %s", client.peer_id, env.code, env.message)
        client._emit("error", "server", {"t": "error", "code": env.code, "message": env.message})
