"""Room state and the single-process seams: room membership as plain data, the room store
interface and its in-memory store, delivery, the counters and the stats snapshot.
"""
