"""Each example, started as its README says, driven in real Chromium like a user would."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import sys
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

    await bob.get_by_role("button", name="Leave").click()
    await ann.get_by_text("Bob left").wait_for()

    # history lives in SQLite and survives a restart
    await examples.pop().stop()
    again = await run(examples, "chat", env=env)
    cid = await chat_join(browser, again.url, "Cid")
    await cid.get_by_text("Ann: hello **** world").wait_for()
    await cid.get_by_text("Bob: hi Ann").wait_for()


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


async def draw(page: Any, points: list[tuple[int, int]]) -> None:
    box = await page.locator("canvas").bounding_box()
    await page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
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
    await draw(host, [(100, 100), (300, 200), (500, 120), (700, 380)])
    drawn = await host.evaluate("strokeCount")
    assert drawn > 5
    await guest.wait_for_function(f"strokeCount === {drawn}", polling=50)
    await draw(guest, [(120, 400), (400, 420)])
    total = await guest.evaluate("strokeCount")
    await host.wait_for_function(f"strokeCount === {total}", polling=50)
    await host.screenshot(path=IMAGES / "whiteboard.png")

    late = await browser.new_page()
    await late.goto(server.url)
    await late.wait_for_function(f"strokeCount === {total}", polling=50)  # the late joiner's copy

    assert await guest.get_by_role("button", name="Clear board").is_disabled()
    await host.get_by_role("button", name="Clear board").click()
    for page in (guest, late):
        await page.wait_for_function("strokeCount === 0", polling=50)
    fresh = await browser.new_page()
    await fresh.goto(server.url)
    await fresh.get_by_role("status").filter(has_text="Connected").wait_for()
    assert await fresh.evaluate("strokeCount") == 0


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


def test_whiteboard_replay_fits_messages_past_65000_bytes() -> None:
    module = _load("whiteboard")
    strokes = [{"points": [[i, i + 1]] * 40, "color": "#123456"} for i in range(400)]
    assert len(json.dumps(strokes)) > 3 * 65_000
    parts = module.chunks(strokes)
    assert len(parts) > 3 and [s for p in parts for s in p] == strokes
    assert all(len(json.dumps({"strokes": p, "first": True}).encode()) < 65_000 for p in parts)


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
    await bob.hover("main", position={"x": 500, "y": 300})
    for page in (bob, cat):
        await page.get_by_label("cursor of Ann").wait_for()
    await cat.get_by_label("cursor of Bob").wait_for()
    await cat.screenshot(path=IMAGES / "mesh_cursors.png")
