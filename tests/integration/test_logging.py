"""Logging: a NullHandler on the package logger, never the root logger."""

from __future__ import annotations

import logging
import subprocess
import sys


def test_importing_configures_nothing_but_a_null_handler() -> None:
    code = (
        "import logging, peerpyrtc;"
        "root = logging.getLogger();"
        "lib = logging.getLogger('peerpyrtc');"
        "assert root.handlers == [], root.handlers;"
        "assert [type(h).__name__ for h in lib.handlers] == ['NullHandler'], lib.handlers;"
        "m = peerpyrtc.SignalingManager(debug=True);"
        "assert root.handlers == [] and root.level == logging.WARNING;"
        "assert any(type(h).__name__ == 'StreamHandler' for h in lib.handlers);"
        "assert lib.level == logging.DEBUG;"
        "peerpyrtc.SignalingManager(debug=True).close();"
        "assert sum(type(h).__name__ == 'StreamHandler' for h in lib.handlers) == 1;"
        "m.close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_module_has_its_own_logger() -> None:
    import peerpyrtc._manager as manager

    assert manager.logger.name == "peerpyrtc._manager"
    assert manager.logger.parent is logging.getLogger("peerpyrtc")
