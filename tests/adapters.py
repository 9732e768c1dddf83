"""Real servers for every framework adapter, on port 0, for the shared suite."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from peerpyrtc import AsyncSignalingManager, Limits, SignalingManager

PREFIX = "/rtc"
#: The admin token every adapter's manager is configured with in the shared suite.
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADAPTERS = ["builtin", "flask", "fastapi", "asgi", "django", "aiohttp"]


@asynccontextmanager
async def uvicorn_server(app: Any) -> AsyncIterator[str]:
    import uvicorn

    # our own listening socket on port 0: connections wait in its backlog until uvicorn accepts
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def django_app(manager: AsyncSignalingManager) -> Any:
    import django
    from django.conf import settings

    module = sys.modules.get("peerpyrtc_test_urls") or types.ModuleType("peerpyrtc_test_urls")
    sys.modules["peerpyrtc_test_urls"] = module
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ROOT_URLCONF="peerpyrtc_test_urls",
            ALLOWED_HOSTS=["*"],
            SECRET_KEY="tests-only",
            INSTALLED_APPS=[],
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            USE_TZ=True,
        )
        django.setup()
    from django.core.asgi import get_asgi_application
    from django.urls import clear_url_caches, include, path

    from peerpyrtc.contrib.django import signaling_urls

    module.urlpatterns = [path(PREFIX.strip("/") + "/", include(signaling_urls(manager)))]  # type: ignore[attr-defined]
    clear_url_caches()
    return get_asgi_application()


@asynccontextmanager
async def serve_adapter(
    name: str, limits: Limits | None = None, **options: Any
) -> AsyncIterator[tuple[str, AsyncSignalingManager]]:
    """Yield (base URL of the routes, the async core) for one adapter (``options``: the
    manager's, e.g. ``backplane=``)."""
    if name == "flask":
        from flask import Flask
        from werkzeug.serving import make_server

        from peerpyrtc.contrib.flask import signaling_blueprint

        sync = SignalingManager(limits=limits, admin_token=ADMIN_TOKEN, **options)
        app = Flask("adapter-test")
        app.register_blueprint(signaling_blueprint(sync), url_prefix=PREFIX)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}{PREFIX}", sync.async_manager
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
            await asyncio.to_thread(sync.close)
        return
    manager = AsyncSignalingManager(limits=limits, admin_token=ADMIN_TOKEN, **options)
    try:
        if name == "builtin":
            from peerpyrtc import start_server

            server = await start_server(manager, prefix=PREFIX)
            try:
                yield server.url, manager
            finally:
                await server.close()
        elif name == "fastapi":
            from fastapi import FastAPI

            from peerpyrtc.contrib.fastapi import signaling_router

            app = FastAPI()
            app.include_router(signaling_router(manager), prefix=PREFIX)
            async with uvicorn_server(app) as url:
                yield url + PREFIX, manager
        elif name == "asgi":
            from starlette.applications import Starlette
            from starlette.routing import Mount

            from peerpyrtc.contrib.fastapi import asgi_app

            app = Starlette(routes=[Mount(PREFIX, app=asgi_app(manager))])
            async with uvicorn_server(app) as url:
                yield url + PREFIX, manager
        elif name == "django":
            async with uvicorn_server(django_app(manager)) as url:
                yield url + PREFIX, manager
        elif name == "aiohttp":
            from aiohttp import web

            from peerpyrtc.contrib.aiohttp import add_routes

            app = web.Application()
            add_routes(app, manager, prefix=PREFIX)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            try:
                yield f"http://127.0.0.1:{port}{PREFIX}", manager
            finally:
                await runner.cleanup()
        else:
            raise ValueError(name)
    finally:
        await manager.close()
