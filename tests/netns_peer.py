"""Python peers for tests/system/test_netns.py, run inside a network namespace.

Usage: python netns_peer.py '{"url": ..., "room": ..., "ids": [...], "expect": [...],
                              "policy": "all", "timeout": 20}'

Connects every id at once and prints one JSON line per event: ``connected`` (with the
ICE pair in use and the connect time), then, after each has sent "hi from ID", ``heard``
once it heard every other id of ours and every id in ``expect``; ``failed`` with the
error's code if a connection fails. Exits 0 when all heard everyone, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from peerpyrtc import AsyncClient, PeerPyRTCError


def say(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def pair_in_use(client: AsyncClient) -> dict[str, Any]:
    pc = client.connection.pc
    assert pc is not None
    connection = pc.sctp.transport.transport._connection  # aioice
    (pair,) = connection._nominated.values()
    local, remote = pair.local_candidate, pair.remote_candidate
    turn = [
        url
        for server in client.connection.configuration.iceServers or []
        for url in ([server.urls] if isinstance(server.urls, str) else server.urls)
        if url.startswith("turn")
    ]
    return {
        "local": local.type,
        "remote": [remote.host, remote.port],
        "remote_type": remote.type,
        "turn_url": turn[0] if local.type == "relay" and turn else None,
    }


async def main(config: dict[str, Any]) -> int:
    ids: list[str] = config["ids"]
    expect = set(config.get("expect", []))
    options: dict[str, Any] = {"timeout": config.get("timeout", 20), "max_reconnect_attempts": 0}
    if config.get("policy", "all") != "all":
        options["ice_transport_policy"] = config["policy"]
    if "ice_servers" in config:  # the client's own, instead of the server's
        options.update(ice_servers=config["ice_servers"], fetch_ice_servers=False)
    clients = {i: AsyncClient(config["url"], config["room"], i, **options) for i in ids}
    heard: dict[str, set[str]] = {i: set() for i in ids}
    done: dict[str, asyncio.Event] = {i: asyncio.Event() for i in ids}

    def listener(me: str) -> Any:
        def on_message(sender: str, message: Any) -> None:
            if message == f"hi from {sender}":
                heard[me].add(sender)
            if heard[me] >= (set(ids) - {me}) | expect:
                done[me].set()

        return on_message

    async def one(peer_id: str) -> None:
        client = clients[peer_id]
        client.on("message", listener(peer_id))
        start = time.perf_counter()
        try:
            await client.connect()
        except PeerPyRTCError as exc:
            say(event="failed", id=peer_id, error=type(exc).__name__, code=exc.code,
                message=str(exc), ms=round((time.perf_counter() - start) * 1000, 1))  # fmt: skip
            raise
        ms = (time.perf_counter() - start) * 1000
        if not (set(ids) - {peer_id}) | expect:
            done[peer_id].set()  # nobody to hear from
        say(event="connected", id=peer_id, ms=round(ms, 1), pair=pair_in_use(client))

    try:
        await asyncio.gather(*(one(i) for i in ids))
        for peer_id, client in clients.items():
            await client.send_message(f"hi from {peer_id}")
        deadline = config.get("timeout", 20)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in done.values())), deadline)
        for peer_id in ids:
            say(event="heard", id=peer_id, **{"from": sorted(heard[peer_id])})
        return 0
    except (PeerPyRTCError, asyncio.TimeoutError) as exc:
        say(
            event="gave_up",
            error=type(exc).__name__,
            heard={k: sorted(v) for k, v in heard.items()},
        )
        return 1
    finally:
        await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(json.loads(sys.argv[1]))))
