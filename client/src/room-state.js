// RoomState: who is in the room and who hosts it, as the server's system envelopes say.
// Plain data: no I/O, no timers; the facade turns what each method returns into events.

export class RoomState {
  /** @param {string} selfId this peer's id */
  constructor(selfId) {
    this.selfId = selfId;
    /** @type {Map<string, object>} peers in join order, this one included */
    this.peers = new Map();
    /** @type {string|null} */
    this.hostId = null;
    /** @type {'relay'|'mesh'|null} */
    this.topology = null;
  }

  /** `welcome`: the whole room, first on every connection. */
  welcome(env) {
    this.peers = new Map((env.peers || []).map((p) => [p.id, p]));
    this.hostId = env.host ?? null;
    this.topology = env.topology || 'relay';
  }

  /** `joined`: returns the newcomer as callbacks see it. */
  joined(env) {
    this.peers.set(env.peer.id, env.peer);
    return { ...env.peer, isHost: env.peer.id === this.hostId };
  }

  /** `left`: returns the peer with the role it had when it left, and why; the new host is set. */
  left(env) {
    const peer = this.peers.get(env.peer.id) || env.peer;
    this.peers.delete(env.peer.id);
    if ('host' in env) this.hostId = env.host;
    return { ...peer, isHost: !!env.peer.isHost, reason: env.reason };
  }

  /** `host`: the host changed. */
  host(env) { this.hostId = env.host ?? null; }

  /** Every peer, in join order, with `isHost` and `isSelf`. */
  list() {
    return [...this.peers.values()].map((p) => ({ ...p, isHost: p.id === this.hostId, isSelf: p.id === this.selfId }));
  }

  get size() { return this.peers.size; }

  clear() { this.peers.clear(); }
}
