"""Connect time through each network path, in the network namespaces of tests/netlab.py
(root, ip, nft, coturn, Chromium): a client reaching the server's own address (host),
a client behind a home NAT reaching a server behind 1:1 NAT at its public address, and
through coturn over UDP, TCP and TLS (the last two from a network that drops all UDP).

    sudo python benchmarks/paths.py [--repeats 5]

Per path: AsyncClient (time to connected, inside the client process) and Chromium
(time for ``connect()`` on a page), min/median/max over the repeats. The server runs
with ``--udp-port 50000`` as docs/deploy.md sets it up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "system")]  # helpers, and the netns test's fixtures

from test_netns import (  # noqa: E402
    RECORDER,
    TURN_HOST,
    UDP_BLOCKED,
    coturn,
    events,
    in_namespace,
    python_peers,
    same_package,
    server,
    vm_options,
)

from browser_support import chromium  # noqa: E402
from netlab import PRIVATE_IP, PUBLIC_IP, internet  # noqa: E402

PATHS = {
    # name: (client namespace, URL, server options, TURN URL or None, UDP blocked)
    "host": ("srvgw", f"http://{PRIVATE_IP}:8080/", ["--udp-port", "50000"], None, False),
    "NAT, public IP": ("home", f"http://{PUBLIC_IP}:8080/", ["--public-ip", PUBLIC_IP, "--udp-port", "50000"], None, False),
    "TURN UDP": ("home", f"http://{PUBLIC_IP}:8080/", None, f"turn:{PUBLIC_IP}:3478?transport=udp", False),
    "TURN TCP": ("home", f"http://{PUBLIC_IP}:8080/", None, f"turn:{TURN_HOST}:3478?transport=tcp", True),
    "TURN TLS": ("home", f"http://{PUBLIC_IP}:8080/", None, f"turns:{TURN_HOST}:5349?transport=tcp", True),
}  # fmt: skip

PAGE_CONNECT = """async ([options]) => {
  const started = performance.now();
  const rtc = new window.WebRTCConnection.WebRTCConnection('paths', options);
  await rtc.connect();
  const ms = performance.now() - started;
  await rtc.closeConnection();
  return ms;
}"""


async def measure(name: str, repeats: int, folder: Path) -> dict[str, list[float]]:
    role, url, options, turn, blocked = PATHS[name]
    out: dict[str, list[float]] = {"AsyncClient": [], "Chromium": []}
    with internet() as lab:
        lab.hosts(role, f"{PUBLIC_IP} {TURN_HOST}\n")
        if blocked:
            lab.nft("homegw", UDP_BLOCKED)
        async with AsyncExitStack() as stack:
            ca = await stack.enter_async_context(coturn(lab, folder)) if turn else None
            args = options if options is not None else vm_options(*([turn] if turn else []))
            await stack.enter_async_context(server(lab, *args))
            policy = "relay" if turn else "all"
            env = {**same_package(), "SSL_CERT_FILE": str(ca)} if ca else None
            for i in range(repeats):
                found = await python_peers(
                    lab,
                    role,
                    {"url": url, "room": "paths", "ids": [f"py{i}"], "policy": policy},
                    env,
                )
                (connected,) = events(found, "connected")
                assert connected["pair"]["local"] == (
                    "relay" if turn else connected["pair"]["local"]
                )
                out["AsyncClient"].append(connected["ms"])
            browser = await stack.enter_async_context(
                chromium(executable=in_namespace(lab, role, folder, ca))
            )
            page = await browser.new_page()
            await page.goto(url)
            await page.evaluate(RECORDER)
            for i in range(repeats):
                options_js = {"peerId": f"page{i}", "iceTransportPolicy": policy}
                out["Chromium"].append(await page.evaluate(PAGE_CONNECT, [options_js]))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", action="append", help="a path's name (repeatable)")
    args = parser.parse_args()
    rows = [
        "| path | AsyncClient connect ms (median [min-max]) | Chromium connect ms |",
        "|---|---:|---:|",
    ]
    for name in [n for n in PATHS if not args.only or n in args.only]:
        with tempfile.TemporaryDirectory() as folder:
            found = await measure(name, args.repeats, Path(folder))
        cells = [
            f"{statistics.median(v):,.0f} [{min(v):,.0f}-{max(v):,.0f}]"
            for v in (found["AsyncClient"], found["Chromium"])
        ]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    save(table)


def save(table: str) -> None:
    (Path(__file__).resolve().parent / "results" / "paths.md").write_text(table + "\n")


if __name__ == "__main__":
    asyncio.run(main())
