"""Flask adapter: a blueprint serving the signalling routes and the client bundles.

from peerpyrtc import SignalingManager
from peerpyrtc.contrib.flask import signaling_blueprint

manager = SignalingManager()
app.register_blueprint(signaling_blueprint(manager), url_prefix="/rtc")
"""

from __future__ import annotations

from typing import Any

from .._assets import JS_TYPE, bundle
from .._sync import SignalingManager
from . import require

__all__ = ["signaling_blueprint"]


def signaling_blueprint(manager: SignalingManager, name: str = "peerpyrtc") -> Any:
    """A Flask ``Blueprint`` with ``/offer``, ``/candidate``, ``/leave``, ``/rooms`` and bundles."""
    flask = require("flask", "flask")
    blueprint = flask.Blueprint(name, __name__)

    def handle(path: str) -> Any:
        request = flask.request
        body = request.get_data(cache=False)
        meta = {
            "headers": dict(request.headers),
            "cookies": dict(request.cookies),
            "remote_addr": request.remote_addr,
        }
        status, payload = manager.dispatch(request.method, path, body, meta)
        return flask.jsonify(payload), status

    for path in ("/offer", "/candidate", "/leave"):
        blueprint.add_url_rule(path, path[1:], lambda path=path: handle(path), methods=["POST"])
    blueprint.add_url_rule("/rooms", "rooms", lambda: handle("/rooms"), methods=["GET"])

    def client(name: str) -> Any:
        data = bundle(name)
        if data is None:
            return flask.jsonify({"error": f"no file {name}"}), 404
        return flask.Response(data, content_type=JS_TYPE)

    blueprint.add_url_rule("/peerpyrtc/<name>", "client", client, methods=["GET"])
    return blueprint
