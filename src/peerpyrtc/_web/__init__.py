"""The HTTP layer: routes (against the Served protocol), the admin routes and page,
Prometheus rendering, the built-in server on h11, static files, the origin policy.
"""
