"""The server core as objects with narrow collaborators: the peer table, the task group,
signalling, the peers' lifecycle, the relay, hooks, the rooms API, offer validation.
"""
