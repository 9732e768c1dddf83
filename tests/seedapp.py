"""The seed README's Flask apps (tests/seed/), loaded and served on a free port."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import ModuleType

from conftest import TIMEOUT

SEED_DIR = Path(__file__).resolve().parent / "seed"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"seed_{name}", SEED_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Served:
    def __init__(self, module: ModuleType) -> None:
        from werkzeug.serving import make_server

        self.module = module
        self.server = make_server("127.0.0.1", 0, module.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(TIMEOUT)
        self.module.signaling_manager.close()
