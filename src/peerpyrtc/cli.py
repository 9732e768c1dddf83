"""``peerpyrtc serve``: a standalone relay server with a demo page."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from ._errors import Unavailable
from ._limits import Limits
from ._logging import configure_logging
from ._manager import AsyncSignalingManager
from ._options import ServerOptions
from ._rtc.ice import normalize_ice_servers
from ._version import __version__
from ._web.server import start_server
from ._web.static import demo_page

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peerpyrtc",
        description="Real-time rooms over WebRTC DataChannels, relayed by a Python server.",
    )
    parser.add_argument(
        "--version", action="version", version=f"peerpyrtc {__version__}",
        help="print the version of peerpyrtc (and of the browser client it ships) and exit",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run a standalone relay server with a demo chat page",
        description=(
            "Serve POST /offer, /candidate, /leave, GET /rooms (with --admin-token), the "
            "browser client at "
            "/peerpyrtc/peerpyrtc.umd.js and .esm.js, and a demo chat page at /."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=5000,
        help="port to listen on, 0 for any free one (default: %(default)s)",
    )
    serve.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="a STUN/TURN server URL, e.g. stun:stun.example.org:3478 (repeatable; default: none)",
    )
    serve.add_argument(
        "--admin-token-file",
        metavar="PATH",
        help="read the admin token (at least 16 characters) from this file: it opens GET "
        "/rooms, /metrics and the admin view's data to 'Authorization: Bearer TOKEN' (or "
        "set $PEERPYRTC_ADMIN_TOKEN; unset: the admin routes do not exist)",
    )
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("PEERPYRTC_ADMIN_TOKEN"),
        metavar="TOKEN",
        help="the admin token itself, at least 16 characters (visible to every local user "
        "in ps: prefer --admin-token-file or $PEERPYRTC_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of peerpyrtc.Limits, e.g. max_bytes_per_second=0 (repeatable)",
    )
    serve.add_argument(
        "--topology",
        choices=["relay", "mesh"],
        default="relay",
        help="relay: every message through the server; mesh: peers also connect directly and "
        "messages travel peer to peer (default: %(default)s)",
    )
    serve.add_argument(
        "--turn-secret-file",
        metavar="PATH",
        help="read coturn's static-auth-secret from this file: clients get short-lived TURN "
        "credentials from POST /ice (or set $PEERPYRTC_TURN_SECRET)",
    )
    serve.add_argument(
        "--turn-secret",
        default=os.environ.get("PEERPYRTC_TURN_SECRET"),
        metavar="SECRET",
        help="the TURN secret itself (visible in ps: prefer --turn-secret-file or "
        "$PEERPYRTC_TURN_SECRET)",
    )
    serve.add_argument(
        "--turn-url",
        action="append",
        default=[],
        metavar="URL",
        help="a TURN URL handed to clients with minted credentials, e.g. "
        "turn:turn.example.org:3478?transport=udp (repeatable; needs --turn-secret)",
    )
    serve.add_argument(
        "--turn-ttl", type=int, default=600, metavar="SECONDS",
        help="lifetime of minted TURN credentials; a connection relayed by TURN lasts at most "
        "about this plus coturn's allocation lifetime, then the client reconnects with new "
        "ones (default: %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (https://app.example.org) whose pages may use the routes, besides "
        "the server's own; '*' for any (repeatable; default: the server's own only)",
    )
    serve.add_argument(
        "--trust-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="a reverse proxy (address or network, e.g. 127.0.0.1) whose X-Forwarded-For names "
        "the client, for per-address limits (repeatable; default: none)",
    )
    serve.add_argument(
        "--public-ip",
        metavar="ADDR",
        help="the address clients reach this server at when it sits behind 1:1 NAT (a cloud "
        "VM): answers announce it instead of the private address",
    )
    serve.add_argument(
        "--keep-private-candidates",
        action="store_true",
        help="with --public-ip, announce the private addresses too (after it): for a TURN "
        "server on the same VM, which relays to them",
    )
    serve.add_argument(
        "--udp-ports",
        metavar="LOW-HIGH",
        help="bind every ICE socket inside this UDP port range, e.g. 50000-50100 (one "
        "firewall rule; each connected peer holds one port per server address)",
    )
    serve.add_argument(
        "--udp-port",
        type=int,
        metavar="PORT",
        help="single-port mode: every peer shares this one UDP port (with --workers N, "
        "worker i uses PORT+i)",
    )
    serve.add_argument(
        "--redis",
        default=os.environ.get("PEERPYRTC_REDIS_URL"),
        metavar="URL",
        help="share rooms with every server using this Redis, e.g. redis://127.0.0.1:6379/0 "
        "(default: $PEERPYRTC_REDIS_URL; unset: rooms live in this process)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N worker processes on one port (needs --redis when N > 1; default: 1)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text lines, or one JSON object per line with event, room, peer and reason "
        "(default: %(default)s)",
    )
    serve.add_argument("--debug", action="store_true", help="log every signalling step to stderr")
    return parser  # fmt: skip


def parse_limits(items: list[str]) -> Limits:
    """``["name=value", ...]`` as a :class:`Limits`; raises ValueError saying what is wrong."""
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        field = fields.get(name.strip())
        if not sep or field is None:
            raise ValueError(f"{item!r}: expected NAME=VALUE with NAME one of {sorted(fields)}")
        default: Any = field.default
        try:
            if isinstance(default, tuple):
                changes[field.name] = tuple(p.strip() for p in text.split(",") if p.strip())
            else:
                changes[field.name] = type(default)(text)
        except ValueError:
            raise ValueError(f"{item!r}: not a {type(default).__name__}") from None
    return dataclasses.replace(Limits(), **changes)


#: Limits each worker of ``--workers N`` enforces alone, per client address: each worker
#: takes 1/N of them, so that N workers sharing one port allow one address what one
#: process does (per-address limits kept in Redis, such as early candidates, stay whole).
PER_ADDRESS = ("max_pending_per_address", "max_peers_per_address", "max_ice_requests_per_minute")


def per_worker(limits: Limits, workers: int) -> Limits:
    """``limits`` with every per-address bound of one process split over ``workers``."""
    changes = {}
    for name in PER_ADDRESS:
        value = getattr(limits, name)
        changes[name] = max(1, -(-value // workers)) if value > 0 else value
    return dataclasses.replace(limits, **changes)


async def serve(
    host: str,
    port: int,
    options: dict[str, Any],
    sock: socket.socket | None = None,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Run the server (``options``: AsyncSignalingManager's keywords) until SIGINT/SIGTERM."""
    manager = AsyncSignalingManager(**options)
    try:
        await manager.start()
    except BaseException:
        await manager.close()
        raise
    server = await start_server(manager, host, port, index_html=demo_page(), sock=sock,
                                trusted_proxies=trusted_proxies)  # fmt: skip
    if sock is None:
        print(f"peerpyrtc serving on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
        await manager.close()


def raise_open_file_limit() -> None:
    """Each peer holds two UDP sockets: lift the soft descriptor limit to the hard one."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (``peerpyrtc[uvloop]``), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        normalize_ice_servers(args.ice_server)
    except ValueError as exc:
        parser.error(f"--ice-server: {exc}")
    try:
        limits = parse_limits(args.limit)
    except ValueError as exc:
        parser.error(f"--limit {exc}")
    for proxy in args.trust_proxy:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            parser.error(f"--trust-proxy: {proxy!r} is not an address or network")
    for name in ("admin_token", "turn_secret"):
        path = getattr(args, f"{name}_file")
        if path is not None:
            try:
                with open(path, encoding="utf-8") as secret_file:
                    setattr(args, name, secret_file.read().strip())
            except (OSError, UnicodeDecodeError) as exc:
                parser.error(f"--{name.replace('_', '-')}-file: cannot read {path}: {exc}")
    if args.admin_token is not None and len(args.admin_token) < 16:
        parser.error(
            "--admin-token: use at least 16 characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    configure_logging(logging.DEBUG if args.debug else logging.INFO, args.log_format)
    if args.workers < 1 or (args.workers > 1 and not args.redis):
        parser.error("--workers: N > 1 needs --redis (each worker holds part of every room)")
    raise_open_file_limit()
    options: dict[str, Any] = {
        "ice_servers": args.ice_server,
        "debug": args.debug,
        "admin_token": args.admin_token,
        "limits": limits,
        "backplane": args.redis,
        "topology": args.topology,
        "turn_secret": args.turn_secret,
        "turn_urls": args.turn_url,
        "turn_ttl": args.turn_ttl,
        "public_ip": args.public_ip,
        "udp_ports": args.udp_ports,
        "udp_port": args.udp_port,
        "keep_private_candidates": args.keep_private_candidates,
        "allowed_origins": args.allow_origin,
    }
    try:
        ServerOptions.of(**options)  # refuse bad options now
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.workers > 1:
            options["limits"] = per_worker(limits, args.workers)
            return _supervise(args.host, args.port, args.workers, options, args.trust_proxy)
        run(serve(args.host, args.port, options, None, args.trust_proxy))
    except Unavailable as exc:
        print(f"peerpyrtc: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the HTTP address or the shared UDP port is taken
        print(f"peerpyrtc: cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _supervise(
    host: str, port: int, workers: int, options: dict[str, Any], trusted_proxies: Sequence[str]
) -> int:
    """Bind once, fork ``workers`` processes that all accept on the socket, restart any that
    dies, and stop them all on SIGINT/SIGTERM."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if family == socket.AF_INET6 else bound[0]
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: its own loop, its own Redis connections
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            mine = dict(options)
            if mine.get("udp_port"):  # one shared UDP port per worker
                mine["udp_port"] += slot
            try:
                run(serve(host, port, mine, sock, trusted_proxies))
            except Unavailable as exc:
                print(f"peerpyrtc worker {slot}: {exc}", file=sys.stderr, flush=True)
                code = 2
            except BaseException:
                code = 1
            os._exit(code)
        children[pid] = slot

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for slot in range(workers):
        spawn(slot)
    print(f"peerpyrtc serving on http://{shown}:{bound[1]} with {workers} workers", flush=True)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        slot = children.pop(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code == 2:  # the backplane is unreachable: restarting would not help
            stop()
            code = 2
        elif not stopping:
            print(f"peerpyrtc: worker {slot} ended ({exit_code}); restarting it", flush=True)
            spawn(slot)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
