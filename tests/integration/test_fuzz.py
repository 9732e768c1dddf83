"""Property-based fuzzing: every HTTP endpoint on every adapter, and the envelope parser.

Never a 5xx, never an exception escaping, and the peers already connected keep
being served with their state intact.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Coroutine, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters import ADAPTERS, serve_adapter
from conftest import Recorder, until
from peerpyrtc import AsyncClient, Limits, ProtocolError
from peerpyrtc._wire.protocol import decode

# The background loop's libraries (aioice) use the global `random` from another thread while
# Hypothesis draws; Hypothesis takes that for the strategy's own use. It is not.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

HTTP_EXAMPLES = 1000
PARSER_EXAMPLES = 2000
CHANNEL_EXAMPLES = 300

#: Strings JSON can hold and UTF-8 cannot (lone surrogates), found wedging rooms in round 2.
surrogates = st.sampled_from(["\ud800", "a\udfffb", "\ud83d", "ok\udc00"])
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.dumps writes them, servers must refuse
    | st.text(max_size=40)
    | surrogates
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.sampled_from(
    ["room", "fuzz", "alice", "bob", "server", "", "a" * 65, "x/y", "é"]
) | st.text(max_size=20)
sessions = st.none() | st.sampled_from(["x" * 32, "short", "a" * 200]) | st.text(max_size=40)
#: Raw JSON text no encoder writes: deep nesting, numbers past float range or int conversion.
hostile_raw = (
    st.integers(20, 3000).map(lambda n: "[" * n + "]" * n)
    | st.integers(20, 200).map(lambda n: '{"a":' * n + "1" + "}" * n)
    | st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 5000])
    | st.integers(1, 5).map(lambda n: '"' + "\\udc00" * n + '"')
)


def with_hole(draw: Any, value: Any) -> str:
    """``json.dumps(value)`` with one hostile raw fragment in place of a leaf (sometimes)."""
    text = json.dumps(value)
    if draw(st.integers(0, 3)) == 0:
        leaves = [i for i, c in enumerate(text) if c in "0123456789n" and text[i - 1] in ":[, "]
        raw = draw(hostile_raw)
        if leaves:
            i = draw(st.sampled_from(leaves))
            j = i
            while j < len(text) and text[j] not in ",]}":
                j += 1
            return text[:i] + raw + text[j:]
        return raw
    return text


BASE_SDP = (
    "\r\n".join(
        [
            "v=0",
            "o=- 4004653332 4004653332 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0",
            "a=msid-semantic:WMS *",
            "m=application 51951 UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN IP4 127.0.0.1",
            "a=mid:0",
            "a=sctp-port:5000",
            "a=max-message-size:262144",
            "a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 127.0.0.1 51951 typ host",
            "a=candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 52904 typ host",
            "a=end-of-candidates",
            "a=ice-ufrag:qCVI",
            "a=ice-pwd:x9E3k6bLVJ0vWBB2zhVIJU",
            "a=fingerprint:sha-256 A3:94:86:FD:B5:40:60:84:A8:12:A4:94:9F:34:67:E0:45:14:16:01:49:CA:F4:0D:C8:E8:BC:99:D3:5E:DF:37",
            "a=fingerprint:sha-384 9D:A8:EB:69:1D:DD:9D:60:88:3D:EA:10:E8:E6:97:C0:59:28:32:5A:31:D7:5C:9F:09:99:C6:92:5F:3C:01:A0:DA:9F:90:C2:54:7F:37:3D:67:57:01:7A:1B:93:EC:36",
            "a=fingerprint:sha-512 58:79:21:A0:54:9E:D1:DF:70:14:8C:C0:FF:04:6D:8A:10:09:4E:36:86:1B:5B:1F:6F:16:91:D8:CF:3A:54:05:84:47:AE:22:6E:F3:D8:2B:92:6C:35:27:5E:6F:54:62:BC:AA:E8:E5:E6:7F:51:92:A5:16:30:57:0B:97:31:8A",
            "a=setup:actpass",
        ]
    )
    + "\r\n"
)


def mutated_sdp(draw: Any) -> str:
    lines = BASE_SDP.split("\r\n")
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "garble", "truncate"]))
        if action == "drop":
            lines.pop(i)
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "garble":
            lines[i] = draw(st.text(max_size=60))
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        if not lines:
            lines = [""]
    return "\r\n".join(lines)


@st.composite
def offers(draw: Any) -> Any:
    if draw(st.booleans()):
        return draw(json_value)
    sdp = mutated_sdp(draw) if draw(st.booleans()) else draw(st.text(max_size=200))
    offer: dict[str, Any] = {
        "sdp": sdp,
        "type": draw(st.sampled_from(["offer", "answer", 1, None])),
    }
    for key, strategy in (("session", sessions), ("info", json_value), ("protocol", json_leaf)):
        if draw(st.booleans()):
            offer[key] = draw(strategy)
    return offer


candidate_text = st.sampled_from(
    [
        "",
        "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host",
        "candidate:1 1 udp 1 abc.local 5000 typ host",
        "candidate:x",
        "a=candidate:1 1 tcp 1 ::1 9 typ host tcptype active",
    ]
) | st.text(max_size=120)


@st.composite
def candidates(draw: Any) -> Any:
    if draw(st.booleans()):
        return draw(json_value)
    cand: dict[str, Any] = {"candidate": draw(candidate_text | json_leaf)}
    for key, strategy in (
        ("sdpMid", st.none() | st.text(max_size=4) | st.integers()),
        ("sdpMLineIndex", st.none() | st.integers(-2, 3) | st.text(max_size=2)),
        ("session", sessions),
        ("usernameFragment", st.text(max_size=8)),
    ):
        if draw(st.booleans()):
            cand[key] = draw(strategy)
    return cand


@st.composite
def bodies(draw: Any, endpoint: str) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(json_value)).encode()
    body: dict[str, Any] = {}
    for key, strategy in (("room", ids), ("peer_id", ids), ("session", sessions)):
        if draw(st.integers(0, 5)):
            body[key] = draw(strategy)
    if endpoint == "offer" and draw(st.integers(0, 5)):
        body["offer"] = draw(offers())
    if endpoint == "candidate" and draw(st.integers(0, 5)):
        body["candidate"] = draw(candidates())
    return with_hole(draw, body).encode()


class Background:
    """An event loop in a thread hosting a server and two connected peers."""

    def __init__(self, adapter: str, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        limits = Limits(pending_timeout=2.0, max_peers_per_room=40, max_ice_requests_per_minute=0)
        self.context = serve_adapter(adapter, limits, **options)
        self.url, self.manager = self.run(self.context.__aenter__())
        self.alice = AsyncClient(self.url, "room", "alice")
        self.bob = AsyncClient(self.url, "room", "bob")
        self.rec = Recorder(self.bob)
        self.run(self.alice.connect())
        self.run(self.bob.connect())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def assert_intact(self) -> None:
        async def check() -> None:
            assert self.alice.connected and self.bob.connected
            fetched = await self.manager.fetch_room_peers("room")
            peers = [(p["id"], p["isHost"]) for p in fetched]
            assert peers == [("alice", True), ("bob", False)]
            await self.alice.send_message("still served")
            await self.rec.expect("message", lambda m: m[1] == "still served")

        self.run(check())

    def close(self) -> None:
        self.run(self.alice.close())
        self.run(self.bob.close())
        self.run(self.context.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module", params=ADAPTERS)
def background(request: pytest.FixtureRequest) -> Iterator[Background]:
    bg = Background(request.param)
    yield bg
    bg.close()


def post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", parts.path + path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def redis_background(redis_server: Any) -> Iterator[Background]:
    """The built-in server on a Redis backplane (parking, forwarding, the Redis store)."""
    import redis as sync_redis

    client = sync_redis.Redis.from_url(redis_server.url)
    client.flushall()
    bg = Background("builtin", backplane=redis_server.url)
    yield bg
    bg.close()
    client.close()


@pytest.mark.parametrize("endpoint", ["offer", "candidate", "leave", "ice"])
def test_fuzz_http_endpoints(background: Background, endpoint: str) -> None:
    fuzz_endpoint(background, endpoint)


@pytest.mark.redis
@pytest.mark.parametrize("endpoint", ["offer", "candidate", "leave", "ice"])
def test_fuzz_redis_backed_routes(redis_background: Background, endpoint: str) -> None:
    fuzz_endpoint(redis_background, endpoint)


def fuzz_endpoint(background: Background, endpoint: str) -> None:
    statuses: dict[int, int] = {}

    @settings(
        max_examples=HTTP_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(body=bodies(endpoint))
    def one(body: bytes) -> None:
        status, payload = post(background.url, f"/{endpoint}", body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (status, payload, body)
        answer = json.loads(payload)
        if status >= 400:
            assert isinstance(answer.get("error"), str) and answer["error"]
            assert answer.get("code", "").startswith("ERR_"), answer

    one()
    assert sum(statuses.values()) >= HTTP_EXAMPLES
    assert any(s >= 400 for s in statuses)  # the fuzzer did reach the error paths
    background.assert_intact()


envelope = st.fixed_dictionaries(
    {"t": st.sampled_from(["msg", "emit", "bcast", "ping", "pong", "bye", "x", 1])},
    optional={
        "e": json_leaf,
        "d": json_value,
        "to": json_leaf,
        "from": json_leaf,
        "n": json_leaf,
        "id": json_leaf,
    },
)


@st.composite
def hostile_frames(draw: Any) -> str:
    return with_hole(draw, draw(envelope | st.lists(envelope, min_size=1, max_size=4)))


frames = (
    st.text(max_size=300)
    | envelope.map(json.dumps)
    | st.lists(envelope | json_value, max_size=5).map(json.dumps)
    | json_value.map(json.dumps)
    | hostile_frames()
)


@settings(max_examples=PARSER_EXAMPLES, deadline=None)
@given(frame=frames)
def test_fuzz_envelope_parser(frame: str) -> None:
    try:
        envelopes = decode(frame)
    except ProtocolError:
        return
    for env in envelopes:
        assert env.type in ("msg", "emit", "bcast", "ping", "pong", "bye")
        assert env.raw.strip().startswith("{") and env.raw.strip().endswith("}")
        # what passes is what a browser's JSON.parse reads back: no NaN, no lone surrogate
        parsed = json.loads(env.raw, parse_constant=lambda c: pytest.fail(f"{c} passed"))
        json.dumps(parsed, allow_nan=False).encode("utf-8")
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        assert "from" not in parsed and "n" not in parsed
        if env.type == "msg":
            assert isinstance(env.data, str)
        if env.type in ("emit", "bcast"):
            assert isinstance(env.event, str) and env.event


def test_fuzz_frames_over_a_real_channel(background: Background) -> None:
    if background.manager is None:  # pragma: no cover
        pytest.skip("no manager")
    sent = 0

    @settings(
        max_examples=CHANNEL_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(frame=frames.filter(lambda f: '"bye"' not in f))
    def one(frame: str) -> None:
        nonlocal sent
        queue = background.alice.connection.queue
        assert queue is not None

        def put() -> None:
            queue.put(frame)
            queue.flush()

        background.loop.call_soon_threadsafe(put)
        sent += 1

    one()
    assert sent >= CHANNEL_EXAMPLES
    background.assert_intact()


#: Binary frames: headers with any mix of fields and values, payloads that fit or not, and
#: the frames of a real large message reordered, repeated, dropped, cut and overgrown.
header_values = {
    "t": st.sampled_from(["emit", "part", "msg", "bcast", "bye", ""]) | json_leaf,
    "e": st.sampled_from(["f", "", "e" * 129]) | surrogates | json_leaf,
    "m": st.integers(-2, 3) | st.sampled_from([2**53, 2**63, 1e300]) | json_leaf,
    "o": st.integers(-1, 40_000) | st.sampled_from([2**62, 0.5]) | json_leaf,
    "z": st.integers(-1, 40_000) | st.sampled_from([16 << 20, 2**62, 2**70]) | json_leaf,
    "j": st.integers(-1, 64) | st.sampled_from([2**62, 1e999]) | json_leaf,
    "b": st.lists(st.integers(-1, 64) | json_leaf, max_size=5) | json_leaf,
    "to": st.sampled_from(["bob", "server", "nobody"]) | json_leaf,
    "x": st.lists(st.sampled_from(["bob", "", 1]), max_size=3) | json_leaf,
    "from": st.sampled_from(["bob"]),
    "n": st.integers(),
}


@st.composite
def binary_frames(draw: Any) -> list[bytes]:
    from peerpyrtc._wire import binary

    choice = draw(st.integers(0, 9))
    if choice == 0:  # raw bytes: a header length field pointing anywhere
        return [draw(st.binary(max_size=64))]
    if choice <= 3:  # one message whose frames arrive in a hostile order
        size = draw(st.integers(17_000, 60_000))
        good = binary.encode_frames({"t": "emit", "e": "f"}, bytes(size), draw(st.integers(0, 3)),
                                    16 << 20)  # fmt: skip
        order = draw(st.lists(st.integers(0, len(good) - 1), min_size=1, max_size=8))
        out = [good[i] for i in order]
        if draw(st.booleans()):  # cut one short, or grow it past its end
            i = draw(st.integers(0, len(out) - 1))
            out[i] = out[i][: draw(st.integers(0, len(out[i])))] + draw(st.binary(max_size=40))
        return out
    header = {k: draw(v) for k, v in header_values.items() if draw(st.integers(0, 3)) == 0}
    if draw(st.booleans()):
        header.setdefault("t", "emit")
        header.setdefault("e", "f")
    text = with_hole(draw, header) if draw(st.integers(0, 4)) == 0 else json.dumps(header)
    return [binary.pack(text, draw(st.binary(max_size=80)))]


def test_fuzz_binary_frames_over_real_channels(background: Background) -> None:
    if background.manager is None:  # pragma: no cover
        pytest.skip("no manager")
    sent = 0

    @settings(
        max_examples=CHANNEL_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(frames=binary_frames(), volatile=st.integers(0, 4))
    def one(frames: list[bytes], volatile: int) -> None:
        nonlocal sent
        conn = background.alice.connection
        assert conn is not None

        def put() -> None:
            for frame in frames:
                if volatile == 0 and conn.volatile.readyState == "open":
                    conn.volatile.send(frame)  # the volatile channel: one message per frame
                else:
                    conn.queue.put(frame)
            conn.queue.flush()

        background.loop.call_soon_threadsafe(put)
        sent += 1

    one()
    assert sent >= CHANNEL_EXAMPLES
    background.assert_intact()


heads = st.lists(
    st.sampled_from(
        [
            "Content-Length: 2",
            "Content-Length: 3",
            "Content-Length: +2",
            "Content-Length:  2",
            "Content-Length: 1_0",
            "Content-Length: -1",
            "Content-Length: 0x2",
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: gzip, chunked",
            "Host: a",
            "Host: b",
            "Content-Type: application/json",
            "X: " + "y" * 100,
            " folded",
            "no colon",
        ]
    ),
    max_size=6,
)


def test_fuzz_raw_heads(background: Background) -> None:
    """Duplicate and odd framing headers: a 4xx or a closed connection, never a 5xx."""
    import socket

    parts = urlsplit(background.url)
    statuses: dict[int, int] = {}

    @settings(
        max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(lines=heads, body=st.sampled_from([b"{}", b"", b"{}{}", b"0\r\n\r\n"]))
    # always tried (the random draws alone may bring no 4xx): conflicting lengths, a negative one
    @example(lines=["Content-Length: 2", "Content-Length: 3"], body=b"{}")
    @example(lines=["Content-Length: -1"], body=b"{}")
    @example(lines=["Content-Length: 2", "Transfer-Encoding: chunked"], body=b"0\r\n\r\n")
    def one(lines: list[str], body: bytes) -> None:
        head = "\r\n".join([f"POST {parts.path}/leave HTTP/1.1", *lines, "Connection: close"])
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(head.encode() + b"\r\n\r\n" + body)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        if data:
            status = int(data.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (lines, data[:300])

    one()
    assert any(s >= 400 for s in statuses)
    background.assert_intact()


def test_slow_and_half_open_clients_hurt_only_themselves(background: Background) -> None:
    """Connections that send half a head, or a head and half a body, then stall."""
    import socket

    parts = urlsplit(background.url)
    stalled = []
    try:
        for i in range(30):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
            if i % 2:
                sock.sendall(f"POST {parts.path}/offer HTTP/1.1\r\nHost: x\r\nContent-Le".encode())
            else:
                sock.sendall(
                    f"POST {parts.path}/offer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{".encode()
                )
            stalled.append(sock)

        async def newcomer() -> None:
            async with AsyncClient(background.url, "room", "carol") as carol:
                assert carol.connected and len(carol.peers) == 3

        background.run(newcomer())
        background.assert_intact()
    finally:
        for sock in stalled:
            sock.close()


class MeshBackground(Background):
    """Two Python peers with a direct link in a mesh room (the built-in server)."""

    def __init__(self) -> None:
        super().__init__("builtin", topology="mesh")
        self.reconnects = 0
        self.bob.on_reconnect = self._reconnected

        def direct() -> bool:
            return all(
                p.get("isDirect") for c in (self.alice, self.bob) for p in c.peers
                if p["id"] != c.peer_id
            )  # fmt: skip

        self.run(until(direct, 20))

    def assert_intact(self) -> None:
        """Both still connected and served (a broadcast: the fuzzed resends may have spoiled
        alice's own numbering towards bob, which only alice's direct messages pay for)."""

        async def check() -> None:
            assert self.alice.connected and self.bob.connected
            assert self.reconnects == 0  # its connection never broke
            fetched = await self.manager.fetch_room_peers("room")
            assert [(p["id"], p["isHost"]) for p in fetched] == [("alice", True), ("bob", False)]
            await self.alice.broadcast("still", "served")
            await self.rec.expect("message", lambda m: m[1] == "served")

        self.run(check())

    def _reconnected(self) -> None:
        self.reconnects += 1


@pytest.fixture(scope="module")
def mesh_background() -> Iterator[MeshBackground]:
    bg = MeshBackground()
    yield bg
    bg.close()


#: Envelopes as a peer could put them in a resend or a direct frame: any JSON as an event.
peer_envelope = st.fixed_dictionaries(
    {"t": st.sampled_from(["msg", "emit", "bcast", "sig", 1])},
    optional={"e": json_value, "d": json_value, "to": json_leaf},
)
signal_data = st.fixed_dictionaries(
    {"k": st.sampled_from(["neg", "switch", "fallback", "resend", "x"]) | json_leaf},
    optional={
        "link": json_leaf,
        "s": st.integers(-5, 10**12) | json_leaf,
        "e": peer_envelope | json_value,
        "description": json_value | st.fixed_dictionaries({"type": json_leaf, "sdp": json_leaf}),
        "candidate": json_value | candidates(),
    },
)
#: Resends (the path of finding 4), drawn often: their envelope reaches the handlers.
resends = st.fixed_dictionaries(
    {"k": st.just("resend"), "s": st.integers(1, 10**12), "e": peer_envelope}
)
direct_frames = frames | st.fixed_dictionaries(
    {"t": st.sampled_from(["d", "a", 1]), "s": st.integers(-3, 10**6) | json_leaf},
    optional={"b": st.lists(peer_envelope | json_value, max_size=5) | json_value},
).map(json.dumps)


def test_fuzz_mesh_signals_and_direct_frames(mesh_background: MeshBackground) -> None:
    """What one member sends another in a mesh room, through the server (``sig``) or on the
    direct link, ends nothing for a Python peer (hardening round 3, finding 4)."""
    bg = mesh_background
    bob_mesh = bg.bob.mesh
    pair = bob_mesh.pairs["alice"]
    sent = 0

    @settings(
        max_examples=CHANNEL_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=resends | signal_data | json_value, frame=direct_frames)
    def one(data: Any, frame: str) -> None:
        nonlocal sent
        queue = bg.alice.connection.queue
        assert queue is not None

        def put() -> None:
            pair.in_seq = 0  # every example meets a fresh numbering (a resend is accepted)
            queue.put(json.dumps({"t": "sig", "to": "bob", "d": data}))
            queue.flush()
            if pair.link is not None:  # straight into the receive path aiortc calls
                bob_mesh.on_frame(pair, pair.link, frame)

        bg.loop.call_soon_threadsafe(put)
        sent += 1

    one()
    assert sent >= CHANNEL_EXAMPLES
    bg.assert_intact()
