"""One suite, every adapter: they serve, validate and answer alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters import ADAPTERS, ADMIN, serve_adapter
from conftest import Recorder, http_request
from peerpyrtc import AsyncClient, AsyncSignalingManager, client_dir

CANDIDATE = "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host"


async def post(url: str, payload: Any) -> tuple[int, Any]:
    status, _, body = await http_request(url, "POST", json.dumps(payload).encode())
    return status, json.loads(body)


@pytest.fixture(params=ADAPTERS)
async def served(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[str, AsyncSignalingManager]]:
    async with serve_adapter(request.param) as pair:
        yield pair


async def test_three_clients_relay_and_rooms_lists_them(
    served: tuple[str, AsyncSignalingManager],
) -> None:
    url, manager = served
    clients = [AsyncClient(url, "room", name) for name in ("alice", "bob", "carol")]
    recs = [Recorder(c) for c in clients]
    try:
        for client in clients:
            await client.connect()
        await clients[0].send_message("hi")
        for rec in recs[1:]:
            assert await rec.expect("message") == ("alice", "hi", None)
        await clients[2].broadcast("go", 1)
        for rec in recs:
            assert await rec.expect("message", lambda m: m[2] == "go") == ("carol", 1, "go")
        status, headers, body = await http_request(url + "/rooms", headers=ADMIN)
        rooms = json.loads(body)
        assert status == 200 and headers["content-type"].startswith("application/json")
        assert rooms["room"]["host_id"] == "alice" and rooms["room"]["peer_count"] == 3
        await clients[0].close()
        assert (await recs[1].expect("left"))["id"] == "alice"
        assert manager.rooms_info()["room"]["host_id"] == "bob"
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_errors_are_the_same_everywhere(served: tuple[str, AsyncSignalingManager]) -> None:
    url, manager = served
    alice = AsyncClient(url, "room", "alice")
    rec_bob = None
    bob = AsyncClient(url, "room", "bob")
    try:
        await alice.connect()
        await bob.connect()
        rec_bob = Recorder(bob)
        cand = {"candidate": CANDIDATE, "sdpMid": "0"}
        cases = [
            ("/offer", {"room": "room"}, 400, "missing required field(s): peer_id, offer"),
            (
                "/offer",
                {"room": "room", "peer_id": "x", "offer": {"type": "offer"}},
                400,
                "'offer.sdp'",
            ),
            ("/candidate", {"room": "room", "peer_id": "alice", "candidate": cand}, 403, "session"),
            ("/candidate", {"room": "room", "peer_id": "ghost", "candidate": cand}, 404, "no peer"),
            ("/leave", {"room": "room"}, 400, "peer_id"),
        ]
        for path, payload, status, says in cases:
            got, body = await post(url + path, payload)
            assert (path, got) == (path, status)
            assert says in body["error"], body
        status, _, body = await http_request(url + "/offer", "POST", b"{broken")
        assert status == 400 and "not valid JSON" in json.loads(body)["error"]
        status, _, body = await http_request(url + "/offer", "POST", b"[" + b"1," * 200_000 + b"1]")
        assert status == 413 and "larger than" in json.loads(body)["error"]
        with pytest.raises(Exception) as taken:
            await AsyncClient(url, "room", "alice").connect()
        assert getattr(taken.value, "status", None) == 409
        status, body = await post(url + "/leave", {"room": "room", "peer_id": "alice"})
        assert status == 200 and len(manager.get_room_peers("room")) == 2  # no proof: stays
        await alice.send_message("still here")
        assert await rec_bob.expect("message") == ("alice", "still here", None)
    finally:
        await alice.close()
        await bob.close()


async def test_bundles_are_served(served: tuple[str, AsyncSignalingManager]) -> None:
    url, _ = served
    for name in ("peerpyrtc.umd.js", "peerpyrtc.esm.js"):
        status, headers, body = await http_request(f"{url}/peerpyrtc/{name}")
        assert status == 200 and "javascript" in headers["content-type"]
        assert body == (client_dir() / name).read_bytes()
    status, _, body = await http_request(f"{url}/peerpyrtc/nope.js")
    assert status == 404 and json.loads(body)["code"] == "ERR_NOT_FOUND"


async def test_health_answers_everywhere_without_a_token(
    served: tuple[str, AsyncSignalingManager],
) -> None:
    url, manager = served
    status, headers, body = await http_request(f"{url}/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-type"].startswith("application/json")
    status, _, body = await http_request(f"{url}/health", "POST", b"{}")
    assert status == 405 and json.loads(body)["code"] == "ERR_METHOD_NOT_ALLOWED"


async def test_health_says_closed_once_the_manager_is_closed() -> None:
    from peerpyrtc._web.routes import dispatch

    manager = AsyncSignalingManager()
    assert await dispatch(manager, "GET", "/health", b"") == (200, {"status": "ok"})
    await manager.close()
    status, body = await dispatch(manager, "GET", "/health", b"")
    assert status == 503 and body["code"] == "ERR_UNAVAILABLE"


def test_missing_extra_gives_an_install_hint() -> None:
    from peerpyrtc.contrib import require

    with pytest.raises(ImportError, match=r"pip install 'peerpyrtc\[nothing\]'"):
        require("surely_not_installed_module", "nothing")


async def test_authorize_sees_the_same_metadata_everywhere(
    served: tuple[str, AsyncSignalingManager],
) -> None:
    url, manager = served
    seen: list[dict[str, Any]] = []

    @manager.authorize
    def check(room: str, peer_id: str, metadata: dict[str, Any]) -> bool | str:
        seen.append(metadata)
        return metadata["headers"].get("authorization") == "Bearer good" or "bad token"

    with pytest.raises(Exception) as refused:
        await AsyncClient(url, "room", "eve", headers={"Authorization": "Bearer bad"}).connect()
    assert getattr(refused.value, "status", None) == 403 and "bad token" in str(refused.value)
    client = AsyncClient(
        url, "room", "ann", headers={"Authorization": "Bearer good"}, info={"name": "Ann"}
    )
    try:
        await client.connect()
        assert client.connected
        assert seen[-1]["remote_addr"] == "127.0.0.1"
        assert seen[-1]["info"] == {"name": "Ann"}
    finally:
        await client.close()


async def test_every_error_is_json_with_a_code(served: tuple[str, AsyncSignalingManager]) -> None:
    """404 and 405 too, on every route the package serves, whatever the framework."""
    url, _ = served
    cases = [
        ("GET", "/offer", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("PUT", "/candidate", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("DELETE", "/leave", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("POST", "/rooms", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("POST", "/peerpyrtc/peerpyrtc.umd.js", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("GET", "/peerpyrtc/secrets.txt", 404, "ERR_NOT_FOUND"),
        ("POST", "/offer", 400, "ERR_INVALID_REQUEST"),
    ]
    for method, path, status, code in cases:
        got, headers, body = await http_request(
            url + path, method, b"{}" if method == "POST" else b""
        )
        assert (method, path, got) == (method, path, status)
        assert headers["content-type"].startswith("application/json"), (method, path)
        answer = json.loads(body)
        assert answer["code"] == code and answer["error"], (method, path, answer)


async def test_rooms_needs_the_admin_token(served: tuple[str, AsyncSignalingManager]) -> None:
    url, _ = served
    async with AsyncClient(url, "secret-room", "alice", info={"name": "Alice"}):
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": "Basic x"},
        ):
            status, _, body = await http_request(url + "/rooms", headers=headers)
            assert status == 401 and json.loads(body)["code"] == "ERR_UNAUTHORIZED"
            assert b"secret-room" not in body and b"alice" not in body
        status, _, body = await http_request(url + "/rooms", headers=ADMIN)
        assert status == 200 and json.loads(body)["secret-room"]["peers"][0]["name"] == "Alice"


@pytest.mark.parametrize(
    ("case", "body"),
    [
        (
            "lone surrogate in info",
            b'{"room":"r","peer_id":"p","offer":{"type":"offer","sdp":"v=0","info":{"name":"\\ud800"}}}',
        ),
        (
            "NaN",
            b'{"room":"r","peer_id":"p","offer":{"type":"offer","sdp":"v=0","info":{"x":NaN}}}',
        ),
        (
            "Infinity",
            b'{"room":"r","peer_id":"p","offer":{"type":"offer","sdp":"v=0","protocol":Infinity}}',
        ),
        (
            "huge number",
            b'{"room":"r","peer_id":"p","offer":{"type":"offer","sdp":"v=0","info":{"x":1e999}}}',
        ),
        ("deep nesting", b"[" * 100_000),
        (
            "deep info",
            b'{"room":"r","peer_id":"p","offer":{"type":"offer","sdp":"v=0","info":{"x":'
            + b"[" * 40
            + b"]" * 40
            + b"}}}",
        ),
        ("look-alike id", '{"room":"r","peer_id":"\u0430lice","offer":{}}'.encode()),
        ("look-alike raw", '{"room":"r","peer_id":"\u0455erver","offer":{}}'.encode()),
        ("not UTF-8", b'{"room":"\xff"}'),
    ],
)
async def test_hostile_contents_are_a_400_with_a_code(
    served: tuple[str, AsyncSignalingManager], case: str, body: bytes
) -> None:
    url, manager = served
    status, _, answer = await http_request(url + "/offer", "POST", body)
    assert status == 400, (case, answer)
    assert json.loads(answer)["code"] == "ERR_INVALID_REQUEST", case
    assert manager.peers.pending == {} and manager.rooms_info() == {}


async def test_two_data_sections_are_a_400(served: tuple[str, AsyncSignalingManager]) -> None:
    url, _ = served
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.createDataChannel("peerpyrtc")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    media = sdp[sdp.index("m=application") :]
    doubled = sdp + media.replace("a=mid:0", "a=mid:1")
    payload = {"room": "r", "peer_id": "p", "offer": {"type": "offer", "sdp": doubled}}
    status, body = await post(url + "/offer", payload)
    assert status == 400 and body["code"] == "ERR_INVALID_REQUEST" and "one media" in body["error"]
    for attribute in ("a=fingerprint:", "a=setup:"):  # aiortc would fail later, in a task
        bare = "\r\n".join(x for x in sdp.split("\r\n") if not x.startswith(attribute))
        payload = {"room": "r", "peer_id": "p", "offer": {"type": "offer", "sdp": bare}}
        status, body = await post(url + "/offer", payload)
        assert status == 400 and "DTLS" in body["error"], body


async def test_authorize_gets_cookies_everywhere(served: tuple[str, AsyncSignalingManager]) -> None:
    url, manager = served
    seen: list[dict[str, Any]] = []

    @manager.authorize
    def check(room: str, peer_id: str, metadata: dict[str, Any]) -> bool:
        seen.append(metadata["cookies"])
        return True

    async with AsyncClient(url, "room", "ann", headers={"Cookie": "sid=abc123; theme=dark"}):
        pass
    # asked twice: for the client's ICE servers (POST /ice), then for its offer
    assert seen == [{"sid": "abc123", "theme": "dark"}] * 2


@pytest.mark.parametrize("adapter", [a for a in ADAPTERS if a != "django"])
async def test_a_huge_body_is_refused_without_reading_it(adapter: str) -> None:
    """A client announcing 50 MB gets its 413 after the limit, not after 50 MB.

    Not Django: its ASGI handler spools every body to a file before any view
    runs (docs/security.md says to cap bodies in the proxy there).
    """
    async with serve_adapter(adapter) as (url, manager):
        await _refused_early(url, manager)


async def _refused_early(url: str, manager: AsyncSignalingManager) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url + "/offer")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 50000000\r\n\r\n".encode()
        + b" " * (manager.limits.max_body_bytes + 65536)
    )
    try:
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
        assert b" 413 " in head
    finally:
        writer.close()


async def test_metrics_and_admin_routes_everywhere(
    served: tuple[str, AsyncSignalingManager],
) -> None:
    """GET /metrics (Prometheus text, parsed by prometheus_client) and the admin routes."""
    from prometheus_client.parser import text_string_to_metric_families

    url, _ = served
    status, _, _ = await http_request(url + "/metrics")
    assert status == 401
    async with AsyncClient(url, "room", "alice") as alice, AsyncClient(url, "room", "bob") as bob:
        rec = Recorder(bob)
        for i in range(5):
            await alice.send_message(f"m{i}")
        await rec.messages(5)
        status, headers, body = await http_request(url + "/metrics", headers=ADMIN)
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        value = {
            s.name + str(sorted(s.labels.items())): s.value
            for f in families.values()
            for s in f.samples
        }
        assert value["peerpyrtc_rooms[]"] == 1
        assert value["peerpyrtc_peers[('topology', 'relay')]"] == 2
        assert value["peerpyrtc_received_frames_total[]"] >= 1  # the client batches
        assert value["peerpyrtc_received_messages_total[]"] >= 5
        assert value["peerpyrtc_delivered_messages_total[]"] >= 5
        assert value["peerpyrtc_joins_total[]"] == 2
        assert families["peerpyrtc_connect_seconds"].type == "histogram"
        assert value["peerpyrtc_connect_seconds_count[]"] == 2
        status, headers, body = await http_request(url + "/admin", headers={})
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b"Admin token" in body and b"alice" not in body  # the page holds no data
        # no other page may frame it (a hidden Remove button under a visitor's click)
        assert headers["x-frame-options"] == "DENY"
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-content-type-options"] == "nosniff"
        status, _, body = await http_request(url + "/admin/state", headers=ADMIN)
        state = json.loads(body)
        assert [p["id"] for p in state["rooms"][0]["peers"]] == ["alice", "bob"]
        status, _, _ = await http_request(url + "/admin/state")
        assert status == 401
        kick = json.dumps({"room": "room", "peer_id": "bob", "reason": "bye bob"}).encode()
        status, _, body = await http_request(url + "/admin/kick", "POST", kick, headers=ADMIN)
        assert status == 200 and json.loads(body) == {"removed": True}
        assert await rec.expect("close") == "bye bob"


async def test_pages_of_other_origins_and_form_posts_are_refused_everywhere(
    served: tuple[str, AsyncSignalingManager],
) -> None:
    """Finding 10: a page of another origin (same site or not) cannot drive the routes with
    the visitor's cookies; the server's own pages post JSON, and the beacon of a closing page
    still leaves."""
    url, manager = served
    host = url.split("://", 1)[1].split("/", 1)[0]
    own = f"http://{host}"
    payload = json.dumps({"room": "room", "peer_id": "ann", "candidate": {
        "candidate": CANDIDATE, "sdpMid": "0", "session": "s" * 24}}).encode()  # fmt: skip
    for origin in ("http://evil.example", f"http://{host.split(':')[0]}:1", "null"):
        for route in ("/offer", "/candidate", "/ice", "/leave"):
            status, _, body = await http_request(url + route, "POST", payload, {
                "Origin": origin, "Cookie": "sessionid=victim"})  # fmt: skip
            assert status == 403 and json.loads(body)["code"] == "ERR_FORBIDDEN", (origin, route)
    # the server's own page: JSON only (a text/plain "simple request" is refused) ...
    status, _, body = await http_request(
        url + "/candidate", "POST", payload, {"Origin": own, "Content-Type": "text/plain"}
    )
    assert status == 415 and json.loads(body)["code"] == "ERR_UNSUPPORTED_MEDIA_TYPE"
    status, _, _ = await http_request(url + "/candidate", "POST", payload, {"Origin": own})
    assert status == 200  # parked until its offer
    # ... but its goodbye beacon is text/plain, and still works
    async with AsyncClient(url, "room", "bob") as bob:
        beacon = json.dumps({"room": "room", "peer_id": "bob", "session": bob.session}).encode()
        status, _, _ = await http_request(
            url + "/leave", "POST", beacon, {"Origin": own, "Content-Type": "text/plain"}
        )
        assert status == 200
        await asyncio.wait_for(_gone(manager, "bob"), 10)


async def _gone(manager: AsyncSignalingManager, peer_id: str) -> None:
    while peer_id in [p["id"] for p in await manager.fetch_room_peers("room")]:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_allowed_origins_open_the_routes_to_other_pages() -> None:
    from peerpyrtc import start_server

    manager = AsyncSignalingManager(allowed_origins=["https://app.example.org"])
    server = await start_server(manager)
    try:
        body = json.dumps({"room": "r", "peer_id": "p"}).encode()
        ok, _, _ = await http_request(server.url + "/ice", "POST", body, {
            "Origin": "https://app.example.org"})  # fmt: skip
        refused, _, _ = await http_request(server.url + "/ice", "POST", body, {
            "Origin": "https://app.example.org:8443"})  # fmt: skip
        assert (ok, refused) == (200, 403)
    finally:
        await server.close()
        await manager.close()
    with pytest.raises(ValueError, match="allowed_origins"):
        AsyncSignalingManager(allowed_origins=["app.example.org"])
