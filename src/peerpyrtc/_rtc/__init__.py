"""The RTC transport: the seam (transport.py) and its aiortc implementation, the send
queue, the server's network (port range, UDP mux), ICE servers and TURN credentials, the
guarded workarounds.
"""
