// Mesh: the direct links of one connection in a mesh room, and the per-pair rules that keep each
// sender's messages exactly once and in order while a pair moves between the relay and its link.
//
// Per pair and direction, messages travel one way at a time. Direct frames carry the pair's
// sequence numbers and are acknowledged. Relay -> direct: the sender says `switch` through the
// relay (after everything it relayed before), then sends direct; the receiver holds direct frames
// until that `switch` arrives. Direct -> relay: the sender says `fallback` and resends what was not
// acknowledged through the relay; the receiver drops numbers it already has. Broadcasts always go
// through the server (one order for the whole room). Docs: docs/protocol.md, "Mesh rooms".

import { PeerLink } from './peer-link.js';
import { volatileEnvelope } from './mesh-volatile.js';
import { randomToken } from './options.js';
import { byteLength } from './protocol.js';
import { HIGH_WATER } from './transport.js';

/** Envelopes above this go through the relay (a resend must fit in a relayed envelope). */
export const MAX_DIRECT_BYTES = 64000;
export const ACK_EVERY = 32;
const ACK_AFTER_MS = 100;
// A direct frame this large is acknowledged at once (as the Python client does).
export const ACK_FRAME_BYTES = 16 * 1024;
export const MAX_UNACKED = 10000;
// unacknowledged direct bytes per pair: past it, fall back; the resend through the relay then
// stays well inside the server's byte burst (4 MiB), so a peer that never acknowledges cannot
// get this one cut off as a flooder
export const MAX_UNACKED_BYTES = 1 << 20;
// a fallback that resent more than this is a strike: no new link with that peer for
// RETRY_MS[strikes], so a peer that never acknowledges cannot make us resend again and again
export const STRIKE_BYTES = 64 * 1024;
export const MAX_HELD = 1024; // direct envelopes kept before the peer's `switch`: past it, fall back
const RETRY_MS = [1000, 3000, 10000, 30000];
const NEW_LINK_MS = 500;

export class Mesh {
  /**
   * @param {object} host what the mesh needs of its connection
   * @param {string} host.selfId
   * @param {() => string[]} host.members the room's peer ids in join order (self included)
   * @param {(to: string, d: object) => void} host.signal a `sig` envelope through the relay
   * @param {(from: string, env: object) => void} host.deliver a peer's envelope, to the app
   * @param {() => RTCConfiguration} host.config ICE configuration of direct links
   * @param {() => void} host.changed the path to some peer changed
   * @param {(...args: unknown[]) => void} host.log
   * @param {(init: object) => PeerLink} [host.createLink] (tests: a fake link)
   */
  constructor(host) {
    this.host = host;
    this.active = false;
    this.cap = 0;
    /** @type {Map<string, Pair>} */
    this.pairs = new Map();
  }

  /** The room's topology, from the welcome. */
  configure(env) {
    this.active = env.topology === 'mesh';
    this.cap = env.meshMaxPeers || 0;
    this.update();
  }

  /** Membership changed: open links to eligible peers (the first `cap` in join order), drop others. */
  update() {
    const { selfId } = this.host;
    const eligible = new Set(this.active ? this.host.members().slice(0, this.cap) : []);
    if (!eligible.has(selfId)) eligible.clear();
    for (const id of [...this.pairs.keys()]) if (!eligible.has(id)) this.drop(id);
    for (const id of eligible) {
      if (id === selfId || this.pairs.has(id)) continue;
      const pair = new Pair(id);
      this.pairs.set(id, pair);
      if (selfId > id) this.startLink(pair); // the impolite side opens links
    }
  }

  isDirect(peerId) { const pair = this.pairs.get(peerId); return !!pair && pair.out === 'direct'; }

  /**
   * Send a msg/emit envelope: direct to the peers it can, the rest through the relay.
   * @returns {string|null} what to relay (with `x` listing peers reached directly), or null
   */
  route(raw, to) {
    if (!this.active || !this.pairs.size || byteLength(raw) > MAX_DIRECT_BYTES) return raw;
    const targets = to != null ? [to] : this.host.members().filter((id) => id !== this.host.selfId);
    for (const id of targets) { // a link that died unnoticed: fall back first, then relay
      const pair = this.pairs.get(id);
      if (pair && pair.out === 'direct' && !pair.canSend) pair.link?.close('channel closed');
    }
    const direct = targets.filter((id) => this.pairs.get(id)?.canSend);
    for (const id of direct) this.sendDirect(this.pairs.get(id), raw);
    if (!direct.length) return raw;
    if (to != null || direct.length === targets.length) return null;
    return `${raw.slice(0, -1)},"x":${JSON.stringify(direct)}}`;
  }

  sendDirect(pair, raw) {
    pair.outSeq += 1;
    pair.unacked.push([pair.outSeq, raw]);
    pair.unackedBytes += raw.length;
    if (pair.unacked.length > MAX_UNACKED || pair.unackedBytes > MAX_UNACKED_BYTES) {
      pair.link.close('too far behind');
      return;
    }
    pair.outbox.push(raw);
    if (pair.outbox.length === 1) queueMicrotask(() => this.flushDirect(pair));
  }

  /** Send what waits for the pair's link, in frames; above the high-water mark the rest
   * waits for the link's bufferedamountlow (the relay channel's rule). */
  flushDirect(pair) {
    const raws = pair.outbox;
    pair.outbox = [];
    if (!raws.length || !pair.canSend) return; // a fallback resends them
    let first = pair.outSeq - raws.length + 1;
    let start = 0;
    while (start < raws.length) {
      if (pair.link.bufferedAmount > HIGH_WATER) { pair.outbox = raws.slice(start); return; }
      let end = start;
      let size = 0;
      while (end < raws.length && (end === start || size + raws[end].length <= MAX_DIRECT_BYTES)) size += raws[end++].length + 1;
      pair.link.send(`{"t":"d","s":${first},"b":[${raws.slice(start, end).join(',')}]}`);
      first += end - start;
      start = end;
    }
  }

  // ------------------------------------------------------------ links
  startLink(pair, linkId = randomToken(9), polite = false) {
    pair.link?.close('replaced');
    const link = (this.host.createLink || ((init) => new PeerLink(init)))({
      peerId: pair.id,
      linkId,
      polite,
      config: this.host.config(),
      signal: (d) => this.host.signal(pair.id, d),
      onFrame: (frame) => this.onFrame(pair, link, frame),
      onVolatile: (frame) => { // unnumbered: delivered at once when valid (mesh-volatile.js)
        const env = pair.link === link ? volatileEnvelope(frame) : null;
        if (env) this.host.deliver(pair.id, env);
      },
      onOpen: () => this.opened(pair, link),
      onDrain: () => { if (pair.link === link) this.flushDirect(pair); },
      onClosed: (reason) => this.closed(pair, link, reason),
      log: this.host.log,
    });
    pair.link = link;
  }

  opened(pair, link) {
    if (pair.link !== link) return;
    pair.retries = 0;
    this.host.signal(pair.id, { k: 'switch', link: link.linkId, v: 1 }); // after all we relayed; v: a volatile channel
    pair.out = 'direct';
    this.host.changed();
  }

  closed(pair, link, reason) {
    if (pair.link !== link) return;
    pair.link = null;
    this.host.log('direct link to', pair.id, 'closed:', reason);
    this.fallBack(pair, link.linkId);
    if (this.pairs.get(pair.id) === pair && this.host.selfId > pair.id && reason !== 'replaced') {
      const delay = Math.max(RETRY_MS[Math.min(pair.retries++, RETRY_MS.length - 1)], pair.quietUntil - Date.now());
      clearTimeout(pair.retryTimer);
      pair.retryTimer = setTimeout(() => { if (this.pairs.get(pair.id) === pair && !pair.link) this.startLink(pair); }, delay);
    }
  }

  fallBack(pair, linkId) {
    pair.inDirect = pair.volatile = false;
    pair.held = [];
    if (pair.out !== 'direct') return;
    pair.out = 'relay';
    this.host.signal(pair.id, { k: 'fallback', link: linkId });
    for (const [s, raw] of pair.unacked) this.host.signal(pair.id, { k: 'resend', s, e: JSON.parse(raw) });
    if (pair.unackedBytes > STRIKE_BYTES) pair.quietUntil = Date.now() + RETRY_MS[Math.min(pair.strikes++, RETRY_MS.length - 1)];
    pair.unacked = [];
    pair.unackedBytes = 0;
    pair.outbox = [];
    this.host.changed();
  }

  drop(id) {
    const pair = this.pairs.get(id);
    this.pairs.delete(id);
    if (!pair) return;
    clearTimeout(pair.retryTimer);
    clearTimeout(pair.ackTimer);
    pair.link?.close('left the mesh');
  }

  close() { for (const id of [...this.pairs.keys()]) this.drop(id); this.active = false; }

  // ------------------------------------------------------------ receiving
  /** A `sig` envelope relayed by the server. */
  onSignal(from, d) {
    const pair = this.pairs.get(from);
    if (!pair || !d || typeof d !== 'object') return;
    switch (d.k) {
      case 'neg':
        if (d.link !== pair.link?.linkId) {
          if (this.host.selfId > from || typeof d.link !== 'string') return; // not ours to make
          const now = Date.now(); // a new link at most every NEW_LINK_MS: a peer cannot churn ours
          if (now - pair.linkAt < NEW_LINK_MS || now < pair.quietUntil) return; // or it left too much unacked
          pair.linkAt = now;
          this.startLink(pair, d.link, true);
        }
        pair.link.receive(d);
        break;
      case 'switch':
        if (d.link !== pair.link?.linkId) return;
        pair.inDirect = true;
        pair.volatile = d.v === 1; // its link has the volatile channel
        for (const [s, env] of pair.held.splice(0)) this.accept(pair, s, env);
        break;
      case 'fallback':
        pair.inDirect = false;
        pair.held = [];
        if (pair.link && pair.link.linkId === d.link) pair.link.close('the peer fell back');
        break;
      case 'resend':
        if (Number.isInteger(d.s) && d.s > pair.inSeq) this.accept(pair, d.s, d.e, false);
        break;
      default:
        break;
    }
  }

  onFrame(pair, link, frame) {
    if (pair.link !== link) return;
    let value;
    try { value = JSON.parse(frame); } catch { return; }
    if (value?.t === 'a' && Number.isInteger(value.s)) {
      pair.unacked = pair.unacked.filter(([s]) => s > value.s);
      pair.unackedBytes = pair.unacked.reduce((n, [, raw]) => n + raw.length, 0);
    } else if (value?.t === 'd' && Number.isInteger(value.s) && Array.isArray(value.b)) {
      for (const [i, env] of value.b.entries()) {
        const s = value.s + i;
        if (s <= pair.inSeq) continue; // already had it (resent through the relay)
        if (pair.inDirect) this.accept(pair, s, env);
        else if (pair.held.length < MAX_HELD) pair.held.push([s, env]);
        else { pair.held = []; link.close('too many direct frames before the switch'); return; }
      }
      if (frame.length >= ACK_FRAME_BYTES && pair.inDirect) this.ack(pair);
    }
  }

  accept(pair, s, env, ack = true) {
    if (s <= pair.inSeq) return;
    pair.inSeq = s;
    if (validDirect(env)) this.host.deliver(pair.id, env);
    if (!ack || !pair.link?.isOpen) return;
    pair.unackedIn += 1;
    if (pair.unackedIn >= ACK_EVERY) this.ack(pair);
    else if (!pair.ackTimer) pair.ackTimer = setTimeout(() => this.ack(pair), ACK_AFTER_MS);
  }

  ack(pair) {
    clearTimeout(pair.ackTimer);
    pair.ackTimer = null;
    pair.unackedIn = 0;
    try { if (pair.link?.isOpen) pair.link.send(`{"t":"a","s":${pair.inSeq}}`); } catch { /* closing */ }
  }
}

class Pair {
  constructor(id) {
    this.id = id;
    /** @type {PeerLink|null} */
    this.link = null;
    this.out = 'relay'; // how our messages reach this peer
    this.outSeq = 0;
    this.unacked = []; // [seq, raw] sent direct, not yet acknowledged
    this.unackedBytes = 0;
    this.outbox = [];
    this.inDirect = false; // its `switch` arrived: its direct frames are delivered
    this.inSeq = 0; // the last of its numbered messages delivered
    this.held = []; // its direct frames that came before its `switch`
    this.unackedIn = 0;
    this.ackTimer = null;
    this.retryTimer = null;
    this.retries = 0;
    this.linkAt = -Infinity;
    this.strikes = 0;
    this.quietUntil = -Infinity;
    this.volatile = false; // its `switch` said its links have the volatile channel
  }

  get canSend() { return this.out === 'direct' && !!this.link?.isOpen; }
}

/** A direct envelope another peer sent, checked as the server checks a client's. */
function validDirect(env) {
  if (env?.t === 'msg') return typeof env.d === 'string';
  return env?.t === 'emit' && typeof env.e === 'string' && env.e.length > 0 && env.e.length <= 128;
}
