"""Thin framework adapters. Each one is an optional extra, imported lazily:

* ``peerpyrtc.contrib.flask`` (``pip install peerpyrtc[flask]``)
* ``peerpyrtc.contrib.fastapi`` (``pip install peerpyrtc[fastapi]``), also a plain ASGI app
* ``peerpyrtc.contrib.django`` (``pip install peerpyrtc[django]``)
* ``peerpyrtc.contrib.aiohttp`` (``pip install peerpyrtc[aiohttp]``)

All of them serve the same routes through :func:`peerpyrtc.dispatch`, so they
validate and answer alike: ``POST /offer``, ``/candidate``, ``/leave``,
``GET /rooms`` and the browser client at ``GET /peerpyrtc/peerpyrtc.{umd,esm}.js``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module!r} is needed for this adapter: pip install 'peerpyrtc[{extra}]'"
        ) from exc
