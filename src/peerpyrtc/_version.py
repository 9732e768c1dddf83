"""The version of both packages (``peerpyrtc`` and ``peerpyrtc-client``): set here only."""

__version__ = "0.4.0.dev0"
