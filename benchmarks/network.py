"""What the server's UDP port placement costs: a port per peer (aioice's default), every
socket inside a range (``--udp-ports``), one shared port (``--udp-port``), with
python-socketio beside them for scale, on this machine, in one run.

    python benchmarks/network.py            # 3 repeats (about 2 minutes)
    python benchmarks/network.py --quick    # 1 repeat, fewer messages

Per configuration, interleaved per repeat: fan-out 1->10 deliveries/s and the server's
CPU per delivery (every delivery is one DTLS record out, and SCTP acknowledgements
come back: the per-packet cost), echo round trip p50, the median time for one client
to connect, and 20 clients connecting at once. Reports min/median/max across repeats.
The clients run in their own process (tests/benchmarks share this 2-core machine:
compare rows, not absolutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import spread_table, start_server, write_result  # noqa: E402


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def configs() -> dict[str, tuple[str, list[str]]]:
    low = free_udp_port()
    return {
        "port per peer": ("peerpyrtc", []),
        "port range": ("peerpyrtc", ["--udp-ports", f"{low}-{low + 200}"]),
        "single port": ("peerpyrtc", ["--udp-port", str(free_udp_port())]),
        "python-socketio": ("socketio", []),
    }


async def workload(system: str, name: str, url: str, pid: int, params: dict[str, Any]) -> Any:
    client = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "workloads.py"), system, name, url, str(pid),
        json.dumps(params), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(client.communicate(), 600)
    if client.returncode != 0:
        raise RuntimeError(f"{system} {name} failed")
    return json.loads(out.decode().strip().splitlines()[-1])


async def run_config(system: str, options: list[str], quick: bool) -> dict[str, Any]:
    if system == "peerpyrtc":
        cmd = [sys.executable, "-m", "peerpyrtc", "serve", "--port", "0", *options]
    else:
        cmd = [sys.executable, str(HERE / "sio_server.py"), "--port", "0"]
    proc, url = await start_server(cmd)
    result: dict[str, Any] = {}
    try:
        messages = 2000 if quick else 6000
        for name, params in (("connect_one", {"count": 10}), ("connect_many", {"n": 20}),
                             ("echo", {"count": 200}), ("fanout", {"n": 10, "messages": messages})):  # fmt: skip
            result.update(await workload(system, name, url, proc.pid, params))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except asyncio.TimeoutError:
            proc.kill()
    return result


METRICS = [
    ("fanout10_deliveries_per_s", "fan-out 1->10 deliveries/s ↑"),
    ("fanout10_server_cpu_us_per_delivery", "server CPU us/delivery ↓"),
    ("echo_p50_ms", "echo round trip p50 (ms) ↓"),
    ("connect_ms", "connect, one client (ms) ↓"),
    ("connect_all_ms", "20 clients at once, all connected (ms) ↓"),
]


def summarize(runs: dict[str, list[dict[str, Any]]]) -> str:
    rows = spread_table(runs, METRICS)
    base = runs["port per peer"]
    for other in ("port range", "single port"):
        ratios = [
            o["fanout10_server_cpu_us_per_delivery"] / b["fanout10_server_cpu_us_per_delivery"]
            for b, o in zip(base, runs[other], strict=True)
        ]
        rows.append(
            f"\nCPU per delivery, {other} / port per peer: median {statistics.median(ratios):.2f} "
            f"[{min(ratios):.2f}-{max(ratios):.2f}] (per repeat, same run)"
        )
    return "\n".join(rows)


def demux_cost(count: int = 300_000) -> dict[str, float]:
    """ns per datagram that the shared port adds: a DTLS record from a learned address, and
    a STUN consent request (parsed, integrity checked), against handing it over directly."""
    import time

    from aioice import stun

    from peerpyrtc._rtc.udpmux import UdpMux, _SharedSocket

    class Receiver:  # what a shared socket hands datagrams to (a StunProtocol's surface)
        local_username, local_password = "abcd", "p" * 22

    class Protocol:
        def __init__(self) -> None:
            self.receiver, self.transactions, self.count = Receiver(), {}, 0

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.count += 1

    shared = _SharedSocket(UdpMux(50000))
    protocol = Protocol()
    shared.register(protocol, "abcd")  # type: ignore[arg-type]
    addr = ("192.0.2.7", 40000)
    shared.learn(protocol, addr)  # type: ignore[arg-type]
    dtls = b"\x17\xfe\xfd" + b"\x00" * 97
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes["USERNAME"] = "abcd:efgh"
    request.add_message_integrity(b"p" * 22)
    consent = bytes(request)

    def per_call(call: Any, data: bytes, n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            call(data, addr)
        return (time.perf_counter() - started) / n * 1e9

    direct = per_call(protocol.datagram_received, dtls, count)
    muxed = per_call(shared.datagram_received, dtls, count)
    stun_muxed = per_call(shared.datagram_received, consent, count // 10)
    return {
        "direct_ns": direct,
        "dtls_added_ns": muxed - direct,
        "stun_added_ns": stun_muxed - direct,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    named = configs()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in named}
    for repeat in range(repeats):
        for name, (system, options) in named.items():
            result = await run_config(system, options, args.quick)
            runs[name].append(result)
            print(f"repeat {repeat + 1}/{repeats} {name}: {json.dumps(result)}", flush=True)
    table = summarize(runs)
    costs = [demux_cost() for _ in range(repeats)]
    for key, title in (("dtls_added_ns", "DTLS/SCTP datagram"), ("stun_added_ns", "STUN request")):
        values = [c[key] for c in costs]
        table += (
            f"\nSingle port, demultiplexing per {title}: median {statistics.median(values):,.0f} ns "
            f"[{min(values):,.0f}-{max(values):,.0f}]"
        )
    write_result("network.md", table)


if __name__ == "__main__":
    asyncio.run(main())
