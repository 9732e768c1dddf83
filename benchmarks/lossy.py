"""60 updates a second to a receiver behind a lossy link: python-socketio (WebSocket),
peerpyrtc reliable and peerpyrtc volatile, in one run.

    sudo python benchmarks/lossy.py            # 0 % and 3 % loss, 3 repeats (about 6 minutes)
    sudo python benchmarks/lossy.py --quick    # 3 % only, 1 repeat, 5 s each
    sudo python benchmarks/lossy.py --loss 0 --loss 5 --seconds 30

Two network namespaces joined by a veth pair: ``srv`` (10.9.0.1) holds the server and the
sender, ``cli`` (10.9.0.2) the receiver. nftables drops a random share of the packets
leaving each end of the veth (``numgen random mod 100 < LOSS drop``: this kernel has no
netem), so both directions of the receiver's link lose packets and the sender's path
(loopback inside ``srv``) loses none. The sender emits ``{seq, time}`` 60 times a second;
the receiver records when each arrives (one machine, one monotonic clock: one-way latency).
Reports the fraction delivered and latency p50/p99/max, min/median/max across repeats.
Needs root, iproute2 and nftables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from workloads import pct, spread_table, volatile_open, write_result  # noqa: E402

SERVER_IP, CLIENT_IP, PORT = "10.9.0.1", "10.9.0.2", 8080
SYSTEMS = ["socketio", "peerpyrtc-reliable", "peerpyrtc-volatile"]


class Side:
    def __init__(self, system: str, url: str, name: str) -> None:
        self.system = system
        self.url = url
        self.on_update: Any = lambda data: None
        if system.startswith("peerpyrtc"):
            from peerpyrtc import AsyncClient

            self.rtc = AsyncClient(url, "lossy", name, max_reconnect_attempts=0, timeout=60)
            self.rtc.on("pos", lambda sender, data: self.on_update(data))
        else:
            import socketio

            self.sio = socketio.AsyncClient(reconnection=False)
            self.sio.on("msg", lambda data: self.on_update(data))

    async def connect(self) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.connect()
            await volatile_open(self.rtc)
        else:
            await self.sio.connect(self.url, transports=["websocket"], wait_timeout=60)
            await self.sio.call("join", "lossy", timeout=60)

    async def send(self, data: Any) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.emit("pos", data, volatile=self.system == "peerpyrtc-volatile")
        else:
            await self.sio.emit("msg", data)

    async def close(self) -> None:
        if self.system.startswith("peerpyrtc"):
            await self.rtc.close()
        else:
            await self.sio.disconnect()


async def receive(system: str, url: str) -> None:
    """Connect, say ready, record arrivals until stdin closes, print them."""
    side = Side(system, url, "receiver")
    arrivals: dict[int, float] = {}
    side.on_update = lambda data: arrivals.setdefault(
        data["s"], (time.monotonic() - data["t"]) * 1000
    )
    await side.connect()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(arrivals), flush=True)
    await side.close()


async def send(system: str, url: str, rate: int, seconds: float) -> None:
    side = Side(system, url, "sender")
    await side.connect()
    await asyncio.sleep(1.0)  # the receiver has seen the join; channels settled
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        await side.send({"s": i, "t": time.monotonic(), "x": i % 800, "y": i % 600})
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    print(json.dumps({"sent": total}), flush=True)
    await side.close()


def build(lab: Any, loss: int) -> None:
    lab.add("srv")
    lab.add("cli")
    lab.veth("srv", "eth0", "cli", "eth0")
    lab.addr("srv", "eth0", f"{SERVER_IP}/24")
    lab.addr("cli", "eth0", f"{CLIENT_IP}/24")
    for role in ("srv", "cli"):
        lab.nft(role, f"""
table inet lossy {{
  chain out {{
    type filter hook output priority 0;
    oifname "eth0" numgen random mod 100 < {loss} drop
  }}
}}""")  # fmt: skip


def child(lab: Any, role: str, *args: str) -> subprocess.Popen[str]:
    return lab.popen(role, sys.executable, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)  # fmt: skip


def run_one(system: str, loss: int, rate: int, seconds: float) -> dict[str, float]:
    from netlab import Lab

    lab = Lab()
    try:
        build(lab, loss)
        if system == "socketio":
            server = [str(HERE / "sio_server.py"), "--host", SERVER_IP, "--port", str(PORT)]
        else:
            server = ["-m", "peerpyrtc", "serve", "--host", SERVER_IP, "--port", str(PORT),
                      "--keep-private-candidates"]  # fmt: skip
        srv = child(lab, "srv", *server)
        assert srv.stdout is not None
        deadline = time.monotonic() + 30
        while "serving on" not in srv.stdout.readline() and time.monotonic() < deadline:
            pass
        url = f"http://{SERVER_IP}:{PORT}"
        recv = child(lab, "cli", __file__, "--receive", system, url)
        assert recv.stdout is not None and recv.stdin is not None
        if recv.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{system}: the receiver did not connect")
        sender = child(lab, "srv", __file__, "--send", system, url, str(rate), str(seconds))
        out, _ = sender.communicate(timeout=seconds + 120)
        sent = json.loads(out.strip().splitlines()[-1])["sent"]
        time.sleep(2.0)  # late arrivals (retransmissions) still count
        recv.stdin.close()
        arrivals = json.loads(recv.stdout.readline())
        latencies = list(arrivals.values())
        return {
            "delivered_percent": 100 * len(arrivals) / sent,
            "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99),
            "max_ms": max(latencies) if latencies else float("nan"),
        }
    finally:
        lab.close()


METRICS = [
    ("delivered_percent", "delivered (%) ↑"),
    ("p50_ms", "latency p50 (ms) ↓"),
    ("p99_ms", "latency p99 (ms) ↓"),
    ("max_ms", "latency max (ms) ↓"),
]


def main() -> None:
    if sys.argv[1:2] == ["--receive"]:
        asyncio.run(receive(sys.argv[2], sys.argv[3]))
        return
    if sys.argv[1:2] == ["--send"]:
        asyncio.run(send(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loss", type=int, action="append", help="percent (repeatable)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=60)
    args = parser.parse_args()
    losses = args.loss or ([3] if args.quick else [0, 3])
    repeats = 1 if args.quick else args.repeats
    seconds = 5.0 if args.quick else args.seconds
    runs: dict[str, list[dict[str, float]]] = {
        f"{system}, {loss} % loss": [] for loss in losses for system in SYSTEMS
    }
    for repeat in range(repeats):
        order = SYSTEMS if repeat % 2 == 0 else SYSTEMS[::-1]
        for loss in losses:
            for system in order:
                result = run_one(system, loss, args.rate, seconds)
                runs[f"{system}, {loss} % loss"].append(result)
                print(f"repeat {repeat + 1}/{repeats} {system} {loss} %: {json.dumps(result)}",
                      flush=True)  # fmt: skip
    lines = spread_table(runs, METRICS)
    for loss in losses:
        ratios = [
            v["p99_ms"] / s["p99_ms"]
            for v, s in zip(runs[f"peerpyrtc-volatile, {loss} % loss"],
                            runs[f"socketio, {loss} % loss"], strict=True)
        ]  # fmt: skip
        lines.append(
            f"\nAt {loss} % loss, volatile p99 / socket.io p99 per repeat: median "
            f"{statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}]"
        )
    text = "\n".join(lines)
    write_result("lossy-quick.md" if args.quick else "lossy.md", text)


if __name__ == "__main__":
    main()
