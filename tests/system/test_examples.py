"""Each example, started as its README says, driven in real Chromium like a user would."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pty
import re
import signal
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from browser_support import chromium, needs_chromium
from conftest import TIMEOUT

pytestmark = [pytest.mark.browser, needs_chromium]

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"


class Example:
    """``cd examples/<name> && python app.py`` with PORT=0, in a subprocess."""

    def __init__(self, name: str, env: dict[str, str] | None = None, tty: bool = False) -> None:
        self.name = name
        self.env = {**os.environ, "PORT": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.tty = tty
        self.proc: asyncio.subprocess.Process | None = None
        self.master = -1
        self.url = ""
        self.output: list[str] = []
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Example:
        stdin: Any = asyncio.subprocess.DEVNULL
        if self.tty:
            self.master, slave = pty.openpty()
            stdin = slave
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "app.py", cwd=ROOT / "examples" / self.name, env=self.env,
            stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        if self.tty:
            os.close(slave)
        self._reader = asyncio.create_task(self._read())
        line = await self.expect(r"Serving on (http://\S+)")
        self.url = re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            self._lines.put_nowait(line)

    async def expect(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """Wait for an output line matching ``pattern``."""

        async def find() -> str:
            while True:
                line = await self._lines.get()
                if re.search(pattern, line):
                    return line

        try:
            return await asyncio.wait_for(find(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name} never printed {pattern!r}: {self.output}") from None

    def type_line(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), TIMEOUT)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, TIMEOUT)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.fixture
async def examples() -> AsyncIterator[list[Example]]:
    started: list[Example] = []
    yield started
    for example in started:
        await example.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def run(examples: list[Example], name: str, **kwargs: Any) -> Example:
    example = Example(name, **kwargs)
    examples.append(example)
    return await example.start()


async def chat_join(browser: Any, url: str, name: str, room: str = "general") -> Any:
    page = await browser.new_page(viewport={"width": 1000, "height": 700})
    await page.goto(url)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Room").select_option(room)
    await page.get_by_role("button", name="Join").click()
    await page.get_by_role("status").filter(has_text=f"Connected to #{room}").wait_for()
    return page


async def test_chat(examples: list[Example], browser: Any, tmp_path: Path) -> None:
    env = {"CHAT_DB": str(tmp_path / "chat.db")}
    server = await run(examples, "chat", env=env)
    ann = await chat_join(browser, server.url, "Ann")
    bob = await chat_join(browser, server.url, "Bob")
    await ann.get_by_text("Bob joined").wait_for()
    users = ann.get_by_role("list", name="Online users")
    await users.get_by_text("Bob").wait_for()
    assert await users.locator("li").count() == 2
    assert await users.get_by_text("host").count() == 1
    assert "host" in await users.locator("li").filter(has_text="Ann").inner_text()

    box = ann.get_by_label("Message")
    await box.fill("hello darn world")
    await box.press("Enter")  # Enter sends, like the button
    await bob.get_by_text("Ann: hello **** world").wait_for()  # the word filter moderated it
    # and the sender sees what the room saw, not what it typed
    await ann.get_by_text("you: hello **** world (filtered)").wait_for()
    assert await ann.get_by_text("darn").count() == 0
    await bob.get_by_label("Message").fill("hi Ann")
    await bob.get_by_role("button", name="Send").click()
    await ann.get_by_text("Bob: hi Ann").wait_for()
    await ann.screenshot(path=IMAGES / "chat.png")

    # an image: picked from a file, sent as binary in frames, shown inline by everyone
    png = noise_png(1024, 768)  # random pixels: about 2.3 MiB that do not compress
    await bob.evaluate(
        "() => { window.seen = []; rtc.lifecycle.on('incoming', (f, e, g, t) => seen.push([g, t])); }"
    )
    await ann.get_by_label("Attach an image").set_input_files(
        files=[{"name": "noise.png", "mimeType": "image/png", "buffer": png}]
    )
    shown = bob.get_by_role("img", name="Ann: noise.png")
    await shown.wait_for()
    await ann.get_by_role("img", name="you: noise.png").wait_for()
    got = await shown.evaluate(
        """async (img) => {
            await img.decode();
            const bytes = await (await fetch(img.src)).arrayBuffer();
            const digest = await crypto.subtle.digest('SHA-256', bytes);
            const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0'));
            return { width: img.naturalWidth, sha: hex.join(''), seen };
        }"""
    )
    assert got["width"] == 1024 and got["sha"] == hashlib.sha256(png).hexdigest()
    seen = got["seen"]  # bob watched it come in: many steps, ending complete
    assert len(seen) > 50 and seen[-1][0] == seen[-1][1] >= len(png)
    assert [g for g, _ in seen] == sorted(g for g, _ in seen)
    await ann.get_by_label("Attach an image").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}]
    )
    await ann.get_by_text("notes.txt: only PNG, JPEG, GIF or WebP images up to 8 MiB").wait_for()

    await bob.get_by_role("button", name="Leave").click()
    await ann.get_by_text("Bob left").wait_for()

    # history lives in SQLite and survives a restart
    await examples.pop().stop()
    again = await run(examples, "chat", env=env)
    cid = await chat_join(browser, again.url, "Cid")
    await cid.get_by_text("Ann: hello **** world").wait_for()
    await cid.get_by_text("Bob: hi Ann").wait_for()


def noise_png(width: int, height: int) -> bytes:
    """A valid PNG of random pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


async def test_terminal_chat(examples: list[Example], browser: Any) -> None:
    server = await run(examples, "terminal_chat", tty=True)
    page = await browser.new_page(viewport={"width": 800, "height": 560})
    await page.goto(server.url)
    await page.get_by_role("status").filter(has_text="Connected as").wait_for()
    name = (await page.get_by_role("status").inner_text()).split("Connected as ")[1]
    await server.expect(rf"\* {name} joined")
    server.type_line("hello from the terminal")
    await page.get_by_text("operator: hello from the terminal").wait_for()
    await page.get_by_label("Message").fill("hi operator")
    await page.get_by_label("Message").press("Enter")
    await server.expect(rf"^{name}: hi operator$")
    await page.screenshot(path=IMAGES / "terminal_chat.png")


async def draw(page: Any, points: list[tuple[int, int]], watcher: Any = None) -> None:
    """Draw one stroke; ``watcher`` (another page) sees it live before the pen lifts."""
    box = await page.locator("canvas").bounding_box()
    before = 0 if watcher is None else await watcher.evaluate("segments")
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    if watcher is not None:  # the volatile segments arrived while the stroke is still open
        await watcher.wait_for_function(f"segments >= {before + 4}", polling=20)
    await page.mouse.up()


async def test_whiteboard(examples: list[Example], browser: Any) -> None:
    server = await run(examples, "whiteboard")
    pages = []
    for _ in range(2):
        page = await browser.new_page(viewport={"width": 900, "height": 640})
        await page.goto(server.url)
        await page.get_by_role("status").filter(has_text="Connected").wait_for()
        pages.append(page)
    host, guest = pages
    await draw(host, [(100, 100), (300, 200), (500, 120), (700, 380)], watcher=guest)
    assert await host.evaluate("strokeCount") == 1
    await guest.wait_for_function("strokeCount === 1", polling=50)  # then whole, reliably
    await draw(guest, [(120, 400), (400, 420)], watcher=host)
    await host.wait_for_function("strokeCount === 2", polling=50)
    await host.screenshot(path=IMAGES / "whiteboard.png")

    late = await browser.new_page()
    await late.goto(server.url)
    await late.wait_for_function("strokeCount === 2", polling=50)  # the late joiner's copy

    assert await guest.get_by_role("button", name="Clear board").is_disabled()
    await host.get_by_role("button", name="Clear board").click()
    for page in (guest, late):
        await page.wait_for_function("strokeCount === 0", polling=50)
    fresh = await browser.new_page()
    await fresh.goto(server.url)
    await fresh.get_by_role("status").filter(has_text="Connected").wait_for()
    assert await fresh.evaluate("strokeCount") == 0


async def test_whiteboard_replays_a_large_drawing_in_one_message(
    examples: list[Example],
) -> None:
    from conftest import Recorder
    from peerpyrtc import AsyncClient

    server = await run(examples, "whiteboard")
    strokes = [{"c": "#123456", "pts": [[i, j] for j in range(2000)]} for i in range(40)]
    assert len(json.dumps(strokes)) > 10 * 65_000
    async with AsyncClient(server.url, "whiteboard", "artist") as artist:
        for stroke in strokes:
            await artist.emit("stroke", stroke)
        await artist.emit("stroke", {"c": "red", "pts": [[0, 0], [1, 1]]})  # not a color
        await artist.emit("stroke", {"c": "#000000", "pts": [[0, 0]] * 2001})  # too long
        await artist.emit("stroke", {"c": "#000000", "pts": [[0, 0], [1e9, 0]]})
        await artist.emit("segment", {"c": "#000000", "a": [0, 0], "b": [1, 1], "x": 1})
        await artist.emit("stroke", {"c": "#abcdef", "pts": [[5, 5], [6, 6]]})  # the last
        await artist.ping()
        late = AsyncClient(server.url, "whiteboard", "late")
        rec = Recorder(late)
        async with late:
            sender, drawing, event = await rec.expect("message", lambda m: m[2] == "drawing")
    assert sender == "server"
    # in order, the hostile ones left out; the last one proves the server had them all
    assert drawing["strokes"][:-1] == strokes
    assert drawing["strokes"][-1] == {"c": "#abcdef", "pts": [[5, 5], [6, 6]]}


async def test_echo(examples: list[Example], browser: Any) -> None:
    server = await run(examples, "echo")
    page = await browser.new_page(viewport={"width": 760, "height": 520})
    await page.goto(server.url)
    await page.get_by_label("Message to echo").fill("are you there?")
    await page.get_by_role("status").filter(has_text="Connected").wait_for()
    await page.get_by_label("Message to echo").press("Enter")
    await page.locator("#last").filter(has_text="are you there?").wait_for()
    rtt = float(await page.locator("#rtt").inner_text())
    assert 0 < rtt < 1000
    await page.wait_for_function(
        "Number(document.getElementById('count').textContent) >= 4", polling=50
    )
    await page.screenshot(path=IMAGES / "echo.png")


def _load(name: str) -> Any:
    import importlib.util

    path = ROOT / "examples" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_terminal_chat_never_prints_escapes() -> None:
    safe = _load("terminal_chat").safe
    hostile = "hi\x1b]0;owned\x07\x1b[2J\x9b31m\r\n"
    shown = safe(hostile)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert shown.startswith("hi\\x1b]0;owned\\x07")


def test_whiteboard_refuses_what_is_not_a_segment_or_stroke() -> None:
    valid = _load("whiteboard").valid
    assert valid("segment", {"c": "#00ff00", "a": [1, 2], "b": [3, 4]})
    assert valid("stroke", {"c": "#00FF00", "pts": [[1, 2], [3, 4]]})
    for event, data in [
        ("segment", {"c": "#00ff00", "a": [1, 2]}),
        ("segment", {"c": "#00ff00", "a": [1, 2], "b": [3, True]}),
        ("segment", {"c": "#00ff00", "a": [1, 2], "b": [3.5, 4]}),
        ("stroke", {"c": "javascript:", "pts": [[1, 2], [3, 4]]}),
        ("stroke", {"c": "#00ff00", "pts": [[1, 2]]}),
        ("stroke", {"c": "#00ff00", "pts": [[1, 2], [3, 4, 5]]}),
        ("stroke", {"c": "#00ff00", "pts": [[0, 0]] * 2001}),
        ("stroke", ["not", "a", "dict"]),
    ]:
        assert not valid(event, data), (event, data)


async def test_mesh_cursors(examples: list[Example], browser: Any) -> None:
    server = await run(examples, "mesh_cursors")
    pages = []
    for name in ("Ann", "Bob", "Cat"):
        page = await browser.new_page(viewport={"width": 760, "height": 480})
        await page.goto(f"{server.url}/?name={name}")
        await page.get_by_role("status").filter(has_text=f"Connected as {name} (mesh)").wait_for()
        pages.append(page)
    ann, bob, cat = pages
    for page in pages:  # every pair on a direct link, shown in the header
        await (
            page.get_by_role("list", name="Peers and paths").get_by_text("direct").nth(1).wait_for()
        )
    board = ann.get_by_role("main", name="Shared board")
    for i in range(3):  # each move reaches the others before the next one is made
        await board.hover(position={"x": 300 + 30 * i, "y": 200 + 20 * i})
        for page in (bob, cat):
            await page.wait_for_function(f"window.moves >= {i + 1}", polling=20)
    assert server.proc is not None  # the moves are peer to peer: they go on without the server
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        for i in range(3, 6):
            await board.hover(position={"x": 200 + 30 * i, "y": 100 + 20 * i})
            for page in (bob, cat):
                await page.wait_for_function(f"window.moves >= {i + 1}", polling=20)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    await bob.hover("main", position={"x": 500, "y": 300})
    for page in (bob, cat):
        await page.get_by_label("cursor of Ann").wait_for()
    await cat.get_by_label("cursor of Bob").wait_for()
    await cat.screenshot(path=IMAGES / "mesh_cursors.png")
