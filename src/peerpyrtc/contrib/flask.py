"""Flask adapter: a blueprint serving the signalling routes and the client bundles.

from peerpyrtc import SignalingManager
from peerpyrtc.contrib.flask import signaling_blueprint

manager = SignalingManager()
app.register_blueprint(signaling_blueprint(manager), url_prefix="/rtc")
"""

from __future__ import annotations

import json
from typing import Any

from .._sync import SignalingManager
from .._web.routes import METHODS, PATHS, SECURITY_HEADERS, error_body
from . import require

__all__ = ["signaling_blueprint"]


def signaling_blueprint(manager: SignalingManager, name: str = "peerpyrtc") -> Any:
    """A Flask ``Blueprint`` with ``/offer``, ``/candidate``, ``/leave``, ``/rooms`` and bundles."""
    flask = require("flask", "flask")
    blueprint = flask.Blueprint(name, __name__)
    limit = manager.limits.max_body_bytes

    def handle(path: str) -> Any:
        request = flask.request
        # never more than the limit is read: one byte past it is enough to answer 413
        try:
            body = request.stream.read(limit + 1) if request.method != "GET" else b""
        except Exception as exc:  # werkzeug: a malformed chunked body, a client gone
            payload = json.dumps(error_body(400, f"malformed request body: {exc}"[:200]))
            return flask.Response(payload, status=400, content_type="application/json")
        meta = {
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote_addr,
        }
        status, ctype, data = manager.respond(request.method, path, body, meta)
        return flask.Response(
            data, status=status, content_type=ctype, headers=dict(SECURITY_HEADERS)
        )

    for path in PATHS:
        blueprint.add_url_rule(path, path[1:], lambda path=path: handle(path), methods=METHODS)
    blueprint.add_url_rule(
        "/peerpyrtc/<name>", "client", lambda name: handle(f"/peerpyrtc/{name}"), methods=METHODS
    )
    return blueprint
