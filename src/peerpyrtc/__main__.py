"""``python -m peerpyrtc`` is the ``peerpyrtc`` command."""

import sys

from .cli import main

sys.exit(main())
