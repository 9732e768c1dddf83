"""A small internet in Linux network namespaces, built and torn down by each test.

    home (192.168.1.2) -- homegw: NAT (masquerade) -- wan 203.0.113.0/24 -- srvgw: 1:1 NAT -- srv
                                                       |  (a bridge; coturn at .3)    203.0.113.2 <-> 10.0.1.2

``srv`` is a cloud VM: private address 10.0.1.2, reachable from the internet only as
203.0.113.2 through ``srvgw`` (DNAT in, SNAT out). ``home`` is a client behind a
home router that masquerades. Firewalls are nftables rulesets the tests load.
Everything runs as root with ``ip`` (iproute2) and ``nft`` (nftables).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PUBLIC_IP = "203.0.113.2"
PRIVATE_IP = "10.0.1.2"
TURN_IP = "203.0.113.3"
HOME_IP = "192.168.1.2"
HOME_PUBLIC_IP = "203.0.113.4"

_counter = itertools.count()
_links = itertools.count()


def why_not() -> str | None:
    """None if namespaces can be built here, else the reason (the tests skip with it)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install -y iproute2 nftables)"
    name = f"ppcheck{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"network namespaces are not permitted here: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], check=False)
    return None


class Lab:
    def __init__(self) -> None:
        self.tag = f"pp{os.getpid()}x{next(_counter)}"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[Any]] = []
        self.etc: list[Path] = []

    def name(self, role: str) -> str:
        return f"{self.tag}{role}"

    def sh(self, *args: str) -> str:
        done = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def run(self, role: str, *args: str) -> str:
        return self.sh("ip", "netns", "exec", self.name(role), *args)

    def cmd(self, role: str, *args: str) -> list[str]:
        """A command line that runs ``args`` inside ``role``'s namespace."""
        return ["ip", "netns", "exec", self.name(role), *args]

    def popen(self, role: str, *args: str, **kwargs: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(self.cmd(role, *args), **kwargs)
        self.processes.append(proc)
        return proc

    def add(self, role: str) -> None:
        ns = self.name(role)
        self.sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        self.run(role, "ip", "link", "set", "lo", "up")
        self.run(role, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")

    def veth(self, a: str, a_if: str, b: str, b_if: str) -> None:
        link = f"t{os.getpid() % 10000}n{next(_links)}"  # brief names in the root namespace
        tmp_a, tmp_b = f"{link}a", f"{link}b"
        self.sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        for tmp, role, name in ((tmp_a, a, a_if), (tmp_b, b, b_if)):
            self.sh("ip", "link", "set", tmp, "netns", self.name(role))
            self.run(role, "ip", "link", "set", tmp, "name", name)
            self.run(role, "ip", "link", "set", name, "up")

    def addr(self, role: str, ifname: str, cidr: str) -> None:
        self.run(role, "ip", "addr", "add", cidr, "dev", ifname)

    def nft(self, role: str, ruleset: str) -> None:
        done = subprocess.run(self.cmd(role, "nft", "-f", "-"), input=ruleset, text=True,
                              capture_output=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"nft in {role}: {done.stderr.strip()}\n{ruleset}")

    def hosts(self, role: str, lines: str) -> None:
        """/etc/hosts as seen inside ``role`` (``ip netns exec`` bind-mounts /etc/netns/NAME)."""
        folder = Path("/etc/netns") / self.name(role)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts").write_text("127.0.0.1 localhost\n" + lines)
        self.etc.append(folder)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        for ns in self.namespaces:  # deleting a namespace deletes its veth ends too
            subprocess.run(["ip", "netns", "del", ns], check=False)
        for folder in self.etc:
            shutil.rmtree(folder, ignore_errors=True)


def build_internet(lab: Lab) -> None:
    for role in ("wan", "srvgw", "srv", "homegw", "home"):
        lab.add(role)
    lab.run("wan", "ip", "link", "add", "br0", "type", "bridge")
    lab.run("wan", "ip", "link", "set", "br0", "up")
    lab.addr("wan", "br0", f"{TURN_IP}/24")
    for role, public in (("srvgw", PUBLIC_IP), ("homegw", HOME_PUBLIC_IP)):
        lab.veth(role, "wan0", "wan", f"{role[:4]}")
        lab.run("wan", "ip", "link", "set", role[:4], "master", "br0")
        lab.addr(role, "wan0", f"{public}/24")
        lab.run(role, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    lab.veth("srv", "eth0", "srvgw", "lan0")
    lab.addr("srv", "eth0", f"{PRIVATE_IP}/24")
    lab.addr("srvgw", "lan0", "10.0.1.1/24")
    lab.run("srv", "ip", "route", "add", "default", "via", "10.0.1.1")
    lab.veth("home", "eth0", "homegw", "lan0")
    lab.addr("home", "eth0", f"{HOME_IP}/24")
    lab.addr("homegw", "lan0", "192.168.1.1/24")
    lab.run("home", "ip", "route", "add", "default", "via", "192.168.1.1")
    # the cloud's 1:1 NAT: the VM's private address is the public one on the internet
    lab.nft(
        "srvgw",
        f"""
table ip nat {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    iifname "wan0" ip daddr {PUBLIC_IP} dnat to {PRIVATE_IP}
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat;
    oifname "wan0" ip saddr {PRIVATE_IP} snat to {PUBLIC_IP}
  }}
}}""",
    )
    # a home router: everything from the LAN leaves as the router's one public address
    lab.nft(
        "homegw",
        """
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "wan0" masquerade
  }
}""",
    )


def sweep() -> None:
    """Remove what a killed test run left behind (namespaces of processes that are gone)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in {line.split()[0] for line in listed.splitlines() if line.strip()}:
        match = re.fullmatch(r"pp(\d+)x\d+\w+", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            subprocess.run(["ip", "netns", "del", name], check=False)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


@contextmanager
def internet() -> Iterator[Lab]:
    reason = why_not()
    if reason is not None:
        pytest.skip(reason)
    sweep()
    lab = Lab()
    try:
        build_internet(lab)
        yield lab
    finally:
        lab.close()
