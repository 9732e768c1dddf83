"""The admin routes: metrics, the live admin page and what it reads and does.

All of them answer only with the admin token (``Authorization: Bearer``), except
the page itself, which holds no data: it asks the operator for the token, keeps
it in the tab's ``sessionStorage`` and polls ``/admin/state`` once a second
(polling, not a channel in a reserved room: an admin view must keep working when
the rooms' machinery is what is failing, and a scrape-like read is what
``/metrics`` does too).
"""

from __future__ import annotations

import time
from typing import Any

from .._errors import InvalidRequest
from . import prometheus
from .api import Served, parse_body
from .static import admin_page

__all__ = ["HTML_TYPE", "METRICS_TYPE", "Text", "admin_kick", "admin_state", "metrics", "page"]

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class Text(str):
    """A route's body that is not JSON: served as is, with its content type."""

    content_type = METRICS_TYPE

    def __new__(cls, text: str, content_type: str = METRICS_TYPE) -> Text:
        made = super().__new__(cls, text)
        made.content_type = content_type
        return made


async def metrics(m: Served, body: bytes, meta: dict[str, Any]) -> tuple[int, Any]:
    return 200, Text(prometheus.render(m.stats()))


async def page(m: Served, body: bytes, meta: dict[str, Any]) -> tuple[int, Any]:
    return 200, Text(admin_page(), HTML_TYPE)


async def admin_state(m: Served, body: bytes, meta: dict[str, Any]) -> tuple[int, Any]:
    """Rooms, peers (host, path), and the counters the page turns into rates."""
    cap = m.limits.mesh_max_peers
    rooms = []
    for name, info in (await m.fetch_rooms_info()).items():
        topology = m.room_topology(name)
        peers = [
            {**p, "path": "direct" if topology == "mesh" and i < cap else "relay"}
            for i, p in enumerate(info["peers"])
        ]
        rooms.append({"name": name, "topology": topology, "host": info["host_id"], "peers": peers})
    counters = m.stats()
    return 200, {
        "time": time.time(),
        "rooms": rooms,
        "received": counters.frames_in,
        "delivered": counters.deliveries,
        "receivedBytes": counters.bytes_in,
        "deliveredBytes": counters.bytes_out,
    }


async def admin_kick(m: Served, body: bytes, meta: dict[str, Any]) -> tuple[int, Any]:
    data = parse_body(body, m.limits, ("room", "peer_id"))
    reason = data.get("reason") or "removed by the server's admin"
    if not all(isinstance(data[k], str) for k in ("room", "peer_id")) or not isinstance(
        reason, str
    ):
        raise InvalidRequest("room, peer_id and reason must be strings")
    return 200, {"removed": await m.kick(data["room"], data["peer_id"], reason)}
