// WebRTCConnection: one peer in one room. The facade: it composes a transport (transport.js) and
// the room state (room-state.js), and owns the outbox, heartbeats, reconnection and events.

import { reconnectDelay, retry } from './backoff.js';
import { Emitter } from './emitter.js';
import { ErrorCodes, PeerPyRTCError, isFinalRefusal } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { createMesh, receiveFrame } from './inbound.js';
import { Outbox } from './outbox.js';
import { Reassembly } from './binary.js';
import { RoomState } from './room-state.js';
import { sendAs } from './sending.js';
import { DEFAULTS, generatePeerId, randomToken } from './options.js';

const PING = '{"t":"ping"}';

export class WebRTCConnection {
  /**
   * @param {string} roomName the room to join
   * @param {object} [options] see DEFAULTS and index.d.ts
   */
  constructor(roomName, options = {}) {
    if (typeof roomName !== 'string' || !roomName) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, 'roomName must be a non-empty string');
    }
    this.roomName = roomName;
    this.options = { ...DEFAULTS, ...options };
    this.peerId = this.options.peerId || generatePeerId();
    this.session = randomToken(24);
    // seed-style callbacks (one each); use lifecycle.on(...) to add more listeners
    this.onOpen = this.onClose = this.onError = this.onMessage = null;
    this.onPeerJoined = this.onPeerLeft = this.onRoomUpdate = this.onStatusChange = null;
    this._events = new Emitter(); // user events (emit/broadcast, and 'message' for plain messages)
    this.lifecycle = new Emitter(); // open, close, error, message, peer-joined, peer-left, ...
    this._room = new RoomState(this.peerId);
    this._mesh = createMesh(this); // direct links, in mesh rooms
    this._status = 'disconnected';
    this._transport = null;
    this._stale = null; // the previous transport during a reconnect (the server still holds it)
    this._outbox = new Outbox(this.options.maxQueuedMessages);
    this._incoming = new Reassembly(); this._maxBody = 0; // large messages; the server's limit (welcome)
    this._heartbeat = new Heartbeat(
      () => { try { this._transport?.send(PING); } catch { /* closing */ } },
      (reason) => this._lost(this._generation, reason),
    );
    this._closedByUser = false; this._connectPromise = null;
    this._generation = 0; this._mayReconnect = true; this.closeReason = null;
    // a closing tab says goodbye at once instead of leaving the room to time it out
    this._onPageHide = () => { if (this._status === 'connected') this._transport.goodbyeOnUnload(); };
    globalThis.addEventListener?.('pagehide', this._onPageHide);
  }

  // ------------------------------------------------------------ state
  get hostId() { return this._room.hostId; }
  isConnected() { return this._status === 'connected'; }
  getConnectionStatus() { return this._status; }
  /** The room's peers in join order; `isDirect`: messages to it travel on a direct link (mesh). */
  getRoomPeers() { return this._room.list().map((p) => ({ ...p, isDirect: this._mesh.isDirect(p.id) })); }
  /** 'relay' or 'mesh', as the server decided for this room (null before the welcome). */
  get topology() { return this._room.topology; }
  getPeerCount() { return this._room.size; }
  /** Diagnostics: the current transport (its `pc`), and the mesh's direct links. */
  get transport() { return this._transport; }
  get mesh() { return this._mesh; }
  isRoomHost() { return this._room.hostId === this.peerId; }

  // ----------------------------------------------------------- events
  on(event, handler) { return this._events.on(event, handler); }
  once(event, handler) { return this._events.once(event, handler); }
  off(event, handler) { this._events.off(event, handler); }
  /** handler(event, senderId, data) for every user event, 'message' included. */
  onAny(handler) { return this._events.onAny(handler); }

  // --------------------------------------------------------- lifecycle
  /** Join the room. Resolves (with this connection) once the channel is open and the room state arrived. */
  connect() {
    if (this._closedByUser) {
      return Promise.reject(new PeerPyRTCError(ErrorCodes.ERR_CLOSED, 'this connection was closed; create a new one'));
    }
    if (this._status === 'connected') return Promise.resolve(this);
    if (!this._connectPromise) {
      this._setStatus('connecting');
      this._connectPromise = this._openRetrying429().then(
        () => { this._connectPromise = null; this._opened(); return this; },
        (error) => {
          this._connectPromise = null;
          this._teardown();
          if (this._closedByUser) throw error;
          this._setStatus('failed');
          this._fire('onError', 'error', error);
          throw error;
        },
      );
    }
    return this._connectPromise;
  }

  /**
   * Leave the room: everything sent before this is delivered first. The goodbye travels over the
   * channel, after the last messages; the server closes the channel once it has read them all.
   * HTTP /leave is used only when the channel cannot carry the goodbye.
   */
  async closeConnection() {
    if (this._closedByUser) return;
    this._closedByUser = true;
    this._generation += 1;
    clearTimeout(this._reconnectTimer);
    this._rejectWelcome(ErrorCodes.ERR_CLOSED, 'closeConnection() was called while connecting');
    globalThis.removeEventListener?.('pagehide', this._onPageHide);
    const wasConnected = this._status === 'connected';
    const transport = this._transport;
    if (transport) {
      this._outbox.flush(true);
      this._outbox.clear();
      if (!(await transport.sayGoodbye())) {
        await transport.leave().catch((e) => this._log('leave failed', e));
      }
    }
    this._teardown();
    this._room.clear();
    this._setStatus('closed');
    if (wasConnected) this._fire('onClose', 'close', 'closed');
  }

  // ----------------------------------------------------------- sending
  // Binary data (ArrayBuffer, typed arrays, DataView, Blob) may sit anywhere; large messages are split.
  sendMessage(message, options) { return sendAs(this, 'msg', undefined, message, options); }
  emit(event, data, options) { return sendAs(this, 'emit', event, data, options); }

  broadcast(event, data, options) { return sendAs(this, 'bcast', event, data, { ...options, to: undefined, direct: false }); }
  /** `rtc.volatile.emit(event, data)`: the unordered channel, dropped rather than late (small only). */
  get volatile() { return { emit: (event, data, options) => sendAs(this, 'emit', event, data, { ...options, volatile: true }) }; }

  _send(raw, to, direct = true) { // (sendAs checked the connection is not closed)
    const relayed = direct ? this._mesh.route(raw, to) : raw; // broadcasts: one order, the server's
    if (relayed !== null) this._outbox.put(relayed);
  }

  // ------------------------------------------------------- connecting
  // A 429 rate limit (the server is setting up too many connections, or too many from this
  // address) means "try again shortly": retried with jittered backoff within connectTimeout.
  // A full room is final (ERR_ROOM_FULL at once).
  _openRetrying429() {
    return retry(() => this._open(), (e) => e?.status === 429 && !isFinalRefusal(e) && !this._closedByUser,
      this.options.connectTimeout);
  }

  async _open() {
    const generation = ++this._generation;
    // a reconnect keeps the old connection until the new one is welcomed: closing it first
    // would tell the server we left (the others would see a leave, a new host, a join)
    this._retire();
    const transport = this.options.createTransport({
      room: this.roomName,
      peerId: this.peerId,
      session: this.session,
      options: this.options,
      onFrame: (frame) => { if (generation === this._generation) this._onFrame(frame); },
      onLost: (reason) => this._lost(generation, reason),
      onDrain: () => this._outbox.flush(),
      log: (...args) => this._log(...args),
    });
    this._transport = transport;
    const welcomed = new Promise((resolve, reject) => { this._welcome = { resolve, reject }; });
    const info = this.options.sendUserAgent
      ? { userAgent: globalThis.navigator?.userAgent, ...this.options.peerInfo }
      : { ...this.options.peerInfo };
    let timer;
    try {
      this.session = await transport.open(info);
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new PeerPyRTCError(ErrorCodes.ERR_TIMEOUT,
          `the channel to room "${this.roomName}" did not open within ${this.options.connectTimeout} ms`)),
        this.options.connectTimeout);
      });
      await Promise.race([welcomed, timeout]);
    } catch (error) {
      this._welcome = null;
      if (generation === this._generation) this._retire(true); // this attempt only
      throw transport.explain ? transport.explain(error) : error; // a TURN refusal says why
    } finally {
      clearTimeout(timer);
    }
  }

  _opened() {
    this._dropStale(); // the server has swapped connections: the old one is no longer ours
    this._setStatus('connected');
    this._heartbeat.start();
    this._outbox.transport = this._transport;
    this._outbox.flush();
    this._fire('onOpen', 'open');
  }

  _rejectWelcome(code, message) {
    if (!this._welcome) return;
    this._welcome.reject(new PeerPyRTCError(code, message));
    this._welcome = null;
  }

  _lost(generation, reason) {
    if (generation !== this._generation || this._closedByUser) return;
    if (this._welcome) {
      this._rejectWelcome(ErrorCodes.ERR_CONNECTION_FAILED, `connection to room "${this.roomName}" failed: ${reason}`);
      return;
    }
    if (this._status !== 'connected') return;
    this._log('connection lost:', reason);
    this._generation += 1;
    if (!this._mayReconnect) {
      // the server ended this session on purpose (replaced, flooding, too slow, kicked): final
      this._teardown();
      this._room.clear();
      this._setStatus('closed');
      this._fire('onClose', 'close', this.closeReason || reason);
      return;
    }
    this._retire();
    this._reconnectUntil = Date.now() + this.options.reconnectTimeout;
    this._reconnect(1, this.closeReason || reason);
  }

  _reconnect(attempt, reason) {
    const delay = reconnectDelay(attempt, this.options.reconnectDelay);
    if (attempt > this.options.maxReconnectAttempts || Date.now() + delay > this._reconnectUntil) {
      this._giveUp(new PeerPyRTCError(ErrorCodes.ERR_RECONNECT_FAILED,
        `lost room "${this.roomName}" (${reason}) and ${attempt - 1} reconnection attempts failed`), reason);
      return;
    }
    this._setStatus('reconnecting');
    this._log(`reconnecting in ${delay} ms (attempt ${attempt})`);
    this._reconnectTimer = setTimeout(() => {
      if (this._closedByUser) return;
      this._open().then(() => this._opened(), (error) => {
        if (this._closedByUser) return;
        this._log('reconnection attempt failed', error);
        if (isFinalRefusal(error)) { this._giveUp(error); return; } // refused, not unreachable
        this._reconnect(attempt + 1, error.message);
      });
    }, delay);
  }

  _giveUp(error, reason = error.message) {
    this._teardown();
    this._room.clear();
    this._setStatus('failed');
    this._fire('onError', 'error', error);
    this._fire('onClose', 'close', reason);
  }

  // Detach the current transport; keep it open (as stale) until a new one is welcomed.
  _retire(close = false) {
    this._heartbeat.stop();
    const transport = this._transport;
    this._transport = this._outbox.transport = null;
    this._outbox.failBulk(); // a large message under way is dropped by the server with it
    if (!transport) return;
    if (close) {
      transport.close();
    } else {
      transport.detach();
      this._dropStale();
      this._stale = transport;
    }
  }

  _dropStale() { const stale = this._stale; this._stale = null; stale?.close(); }

  _teardown() { this._retire(true); this._dropStale(); this._mesh.close(); }

  // --------------------------------------------------------- receiving
  _onFrame(frame) {
    this._heartbeat.heard();
    receiveFrame(this, frame);
  }

  _roomUpdate() { this._fire('onRoomUpdate', 'room-update', this.getRoomPeers()); }

  // ----------------------------------------------------------- helpers
  _setStatus(status) {
    if (this._status === status) return;
    this._status = status;
    this._log('status', status);
    this._fire('onStatusChange', 'status', status);
  }

  _fire(callbackName, lifecycleEvent, ...args) {
    const callback = this[callbackName];
    if (typeof callback === 'function') {
      try { callback.apply(this, args); } catch (error) {
        console.error(`[peerpyrtc] ${callbackName} threw`, error);
      }
    }
    this.lifecycle.emit(lifecycleEvent, ...args);
  }

  _log(...args) {
    if (this.options.debug) console.debug(`[peerpyrtc ${this.roomName}/${this.peerId}]`, ...args);
  }
}
