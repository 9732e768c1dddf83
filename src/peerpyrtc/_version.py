"""The version of both packages (``peerpyrtc`` and ``peerpyrtc-client``): set here only."""

__version__ = "0.3.0"
