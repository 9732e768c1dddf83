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

from .._assets import JS_TYPE, bundle
from .._manager import AsyncSignalingManager
from .._routes import dispatch
from .._sync import SignalingManager
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

    def respond(status: int, payload: Any) -> Any:
        return http.JsonResponse(payload, status=status, safe=False)

    if isinstance(manager, SignalingManager):
        sync_manager = manager

        def view(request: Any, route: str) -> Any:
            return respond(
                *sync_manager.dispatch(request.method, route, request.body, _meta(request))
            )

    else:
        async_manager = manager

        async def view(request: Any, route: str) -> Any:  # type: ignore[misc]
            status, payload = await dispatch(
                async_manager, request.method, route, request.body, _meta(request)
            )
            return respond(status, payload)

    def client(request: Any, name: str) -> Any:
        data = bundle(name)
        if data is None:
            return respond(404, {"error": "no such file"})
        return http.HttpResponse(data, content_type=JS_TYPE)

    exempt = csrf.csrf_exempt(view)  # signalling is JSON from scripts, proven by its session
    return [
        *(
            urls.path(name, exempt, {"route": f"/{name}"})
            for name in ("offer", "candidate", "leave", "rooms")
        ),
        urls.path("peerpyrtc/<str:name>", client),
    ]
