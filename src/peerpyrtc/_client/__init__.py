"""AsyncClient, the Python peer: its session and inbound envelopes, one connection, direct
mesh links and their shared rules, TURN choice, HTTP through httpx.
"""
