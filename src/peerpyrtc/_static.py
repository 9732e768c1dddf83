"""Where the browser client bundles and the demo page live inside the package."""

from __future__ import annotations

from pathlib import Path

__all__ = ["client_dir", "demo_page"]

_HERE = Path(__file__).resolve().parent


def client_dir() -> Path:
    """The folder holding the browser client: ``peerpyrtc.umd.js`` and ``peerpyrtc.esm.js``."""
    return _HERE / "static"


def demo_page() -> str:
    """The demo chat page served by ``peerpyrtc serve`` at ``/``."""
    return (_HERE / "static" / "demo.html").read_text(encoding="utf-8")
