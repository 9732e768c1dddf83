"""Django adapter: URL patterns for the signalling routes and the client bundles.

With an ASGI deployment (uvicorn, daphne), pass an ``AsyncSignalingManager``:
the views are async and run in the server's loop. With WSGI, pass a
``SignalingManager``: the views are plain and forward to its loop thread.

    # urls.py
    from peerpyrtc import AsyncSignalingManager
    from peerpyrtc.contrib.django import signaling_urls

    manager = AsyncSignalingManager()
    urlpatterns = [path("rtc/", include(signaling_urls(manager)))]
"""

from __future__ import annotations

from typing import Any

from .._manager import AsyncSignalingManager
from .._sync import SignalingManager
from .._web.routes import PATHS, SECURITY_HEADERS
from . import require

__all__ = ["signaling_urls"]


def _meta(request: Any) -> dict[str, Any]:
    return {
        "headers": dict(request.headers),
        "cookies": dict(request.COOKIES),
        "remote_addr": request.META.get("REMOTE_ADDR"),
    }


def signaling_urls(manager: AsyncSignalingManager | SignalingManager) -> list[Any]:
    """URL patterns: ``offer``, ``candidate``, ``leave``, ``rooms``, ``peerpyrtc/<name>``."""
    urls = require("django.urls", "django")
    http = require("django.http", "django")
    csrf = require("django.views.decorators.csrf", "django")

    limit = manager.limits.max_body_bytes

    def response(result: tuple[int, str, bytes]) -> Any:
        status, ctype, data = result
        answer = http.HttpResponse(data, status=status, content_type=ctype)
        for name, value in SECURITY_HEADERS:
            answer[name] = value
        return answer

    if isinstance(manager, SignalingManager):
        sync_manager = manager

        def view(request: Any, route: str, name: str = "") -> Any:
            body = request.read(limit + 1)
            return response(
                sync_manager.respond(request.method, route + name, body, _meta(request))
            )

    else:
        async_manager = manager

        async def view(request: Any, route: str, name: str = "") -> Any:  # type: ignore[misc]
            body = request.read(limit + 1)
            meta = _meta(request)
            return response(await async_manager.respond(request.method, route + name, body, meta))

    exempt = csrf.csrf_exempt(view)  # signalling is JSON from scripts, proven by its session
    return [
        *(urls.path(path[1:], exempt, {"route": path}) for path in PATHS),
        urls.path("peerpyrtc/<str:name>", exempt, {"route": "/peerpyrtc/"}),
    ]
