"""The files the package serves: the browser client bundles and the demo page."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLES", "JS_TYPE", "admin_page", "bundle", "client_dir", "demo_page"]

_HERE = Path(__file__).resolve().parent.parent

JS_TYPE = "text/javascript; charset=utf-8"
#: The only files served under ``/peerpyrtc/``.
BUNDLES = ("peerpyrtc.umd.js", "peerpyrtc.esm.js")


def client_dir() -> Path:
    """The folder holding the browser client: ``peerpyrtc.umd.js`` and ``peerpyrtc.esm.js``."""
    return _HERE / "static"


def bundle(name: str) -> bytes | None:
    """The bytes of a client bundle, or None if ``name`` is not one."""
    if name not in BUNDLES:
        return None
    return (client_dir() / name).read_bytes()


def admin_page() -> str:
    """The live admin view served at ``/admin`` (it holds no data until given the token)."""
    return (_HERE / "static" / "admin.html").read_text(encoding="utf-8")


def demo_page() -> str:
    """The demo chat page served by ``peerpyrtc serve`` at ``/``."""
    return (_HERE / "static" / "demo.html").read_text(encoding="utf-8")
