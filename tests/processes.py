"""A ``peerpyrtc serve`` process a test can start, kill and restart."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

from conftest import TIMEOUT


class ServerProcess:
    """``python -m peerpyrtc serve`` in a subprocess."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, port: int = 0) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "peerpyrtc", "serve", "--port", str(port),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        match = re.search(rb"serving on (http://\S+)", line)
        assert match, line
        self.url = match.group(1).decode()
        return self.url

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
