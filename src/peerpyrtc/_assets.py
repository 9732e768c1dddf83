"""The client bundles as HTTP responses, shared by every adapter."""

from __future__ import annotations

from ._static import client_dir

__all__ = ["BUNDLES", "JS_TYPE", "bundle"]

JS_TYPE = "text/javascript; charset=utf-8"
#: The only files served under ``/peerpyrtc/``.
BUNDLES = ("peerpyrtc.umd.js", "peerpyrtc.esm.js")


def bundle(name: str) -> bytes | None:
    """The bytes of a client bundle, or None if ``name`` is not one."""
    if name not in BUNDLES:
        return None
    return (client_dir() / name).read_bytes()
