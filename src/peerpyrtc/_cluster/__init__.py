"""Several workers: the Bus (Redis pub/sub), cluster delivery over it, the Redis room
store, parked candidates, and the backplane (liveness, forwarding) that receives only a
ClusterHost.
"""
