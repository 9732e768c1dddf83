// WebRTCConnection: one peer in one room, through the Python relay.

import { reconnectDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { ErrorCodes, PeerPyRTCError } from './errors.js';
import {
  BYE, CHANNEL_LABEL, CHANNEL_PROTOCOL, MAX_ENVELOPE_BYTES, PROTOCOL_VERSION,
  byteLength, decodeFrame, encodeBroadcast, encodeEmit, encodeMessage, frames,
} from './protocol.js';
import { postJSON, signalingUrl } from './signaling.js';

const HIGH_WATER = 1 << 20;
// the server pings a quiet peer every 4 s, so a live server is never silent this long
const HEARTBEAT_INTERVAL = 6000;
const HEARTBEAT_TIMEOUT = 12000;
const PING = JSON.stringify({ t: 'ping' });
const LOW_WATER = 256 << 10;

function randomToken(bytes) {
  const data = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(data);
  let text = '';
  for (const b of data) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function generatePeerId() {
  return `peer-${randomToken(6).replace(/[-_]/g, 'x')}`;
}

export const DEFAULTS = Object.freeze({
  debug: false,
  // retried with capped, jittered backoff until reconnectTimeout has passed
  maxReconnectAttempts: Infinity,
  reconnectDelay: 2000,
  reconnectTimeout: 120000,
  sendUserAgent: false,
  iceServers: [],
  signalingUrl: '',
  peerInfo: {},
  requestTimeout: 10000,
  connectTimeout: 15000,
  maxQueuedMessages: 1000,
  headers: {},
});

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
    this.hostId = null;
    // seed-style callbacks (one each); use lifecycle.on(...) to add more listeners
    this.onOpen = null;
    this.onClose = null;
    this.onError = null;
    this.onMessage = null;
    this.onPeerJoined = null;
    this.onPeerLeft = null;
    this.onRoomUpdate = null;
    this.onStatusChange = null;
    /** User events (emit/broadcast, and 'message' for plain messages). */
    this._events = new Emitter();
    /** Lifecycle events: open, close, error, message, peer-joined, peer-left, room-update, status. */
    this.lifecycle = new Emitter();
    this._peers = new Map();
    this._status = 'disconnected';
    this._pc = null;
    this._channel = null;
    this._outbox = [];
    this._flushScheduled = false;
    this._closedByUser = false;
    this._connectPromise = null;
    this._generation = 0;
    this._mayReconnect = true;
    this.closeReason = null;
    // a closing tab says goodbye at once instead of leaving the room to time it out
    this._onPageHide = () => this._goodbye();
    globalThis.addEventListener?.('pagehide', this._onPageHide);
  }

  // ------------------------------------------------------------ state
  isConnected() { return this._status === 'connected'; }
  getConnectionStatus() { return this._status; }
  getRoomPeers() {
    return [...this._peers.values()].map((p) => ({ ...p, isHost: p.id === this.hostId, isSelf: p.id === this.peerId }));
  }
  getPeerCount() { return this._peers.size; }
  isRoomHost() { return this.hostId === this.peerId; }

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
      this._connectPromise = this._open().then(
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
    if (this._welcome) {
      this._welcome.reject(new PeerPyRTCError(ErrorCodes.ERR_CLOSED, 'closeConnection() was called while connecting'));
      this._welcome = null;
    }
    globalThis.removeEventListener?.('pagehide', this._onPageHide);
    const wasConnected = this._status === 'connected';
    const channel = this._channel;
    let saidBye = false;
    if (channel && channel.readyState === 'open') {
      this._flush(true);
      try { channel.send(BYE); saidBye = true; } catch { /* already gone */ }
    }
    this._outbox = [];
    if (!saidBye || !(await this._serverClosed(channel, 3000))) {
      await postJSON(signalingUrl(this.options.signalingUrl, 'leave'), this._leaveBody(),
        this._requestOptions()).catch((e) => this._log('leave failed', e));
    }
    this._teardown();
    this._peers.clear();
    this._setStatus('closed');
    if (wasConnected) this._fire('onClose', 'close', 'closed');
  }

  _requestOptions() {
    return { timeout: this.options.requestTimeout, headers: this.options.headers || {} };
  }

  _leaveBody() {
    return { room: this.roomName, peer_id: this.peerId, session: this.session };
  }

  _goodbye() {
    if (this._status !== 'connected') return;
    try { this._channel.send(BYE); } catch { /* already gone */ }
    // the session secret proves it is us; a beacon survives the page going away. JSON (which
    // any /leave route parses) is only allowed same-origin; cross-origin it goes as text/plain,
    // which the package's own routes accept too
    const url = signalingUrl(this.options.signalingUrl, 'leave');
    const body = new Blob([JSON.stringify(this._leaveBody())], { type: beaconType(url) });
    globalThis.navigator?.sendBeacon?.(url, body);
  }

  // ----------------------------------------------------------- sending
  sendMessage(message) {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this._enqueue(encodeMessage(text));
  }

  emit(event, data, options = {}) {
    this._checkEvent(event);
    this._enqueue(encodeEmit(event, data, options && options.to));
  }

  broadcast(event, data) {
    this._checkEvent(event);
    this._enqueue(encodeBroadcast(event, data));
  }

  _checkEvent(event) {
    if (typeof event !== 'string' || !event || event.length > 128) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, 'event must be a string of 1 to 128 characters');
    }
  }

  _enqueue(raw) {
    if (this._closedByUser) {
      throw new PeerPyRTCError(ErrorCodes.ERR_CLOSED, 'cannot send: closeConnection() was called');
    }
    if (byteLength(raw) > MAX_ENVELOPE_BYTES) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `message is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    }
    if (this._status !== 'connected' && this._outbox.length >= this.options.maxQueuedMessages) {
      throw new PeerPyRTCError(ErrorCodes.ERR_QUEUE_FULL,
        `not connected and ${this.options.maxQueuedMessages} messages already wait to be sent`);
    }
    this._outbox.push(raw);
    this._scheduleFlush();
  }

  _scheduleFlush() {
    if (this._flushScheduled || this._status !== 'connected') return;
    this._flushScheduled = true;
    queueMicrotask(() => { this._flushScheduled = false; this._flush(); });
  }

  _flush(force = false) {
    const channel = this._channel;
    if (!channel || channel.readyState !== 'open' || !this._outbox.length) return;
    if (!force && channel.bufferedAmount > HIGH_WATER) return; // resumes on bufferedamountlow
    const raws = this._outbox;
    this._outbox = [];
    for (const frame of frames(raws)) channel.send(frame);
  }

  // Resolves true once the server closes `channel` (it does after reading our goodbye).
  _serverClosed(channel, timeout) {
    return new Promise((resolve) => {
      if (channel.readyState === 'closed') { resolve(true); return; }
      const timer = setTimeout(() => resolve(false), timeout);
      channel.addEventListener('close', () => { clearTimeout(timer); resolve(true); });
    });
  }

  // ------------------------------------------------------- connecting
  async _open() {
    const generation = ++this._generation;
    // a reconnect keeps the old connection until the new one is welcomed: closing it first
    // would tell the server we left (the others would see a leave, a new host, a join)
    this._retire();
    const pc = new RTCPeerConnection({ iceServers: this.options.iceServers || [] });
    const channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: true, protocol: CHANNEL_PROTOCOL });
    this._pc = pc;
    this._channel = channel;
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onbufferedamountlow = () => this._flush();
    const welcomed = new Promise((resolve, reject) => {
      this._welcome = { resolve, reject };
    });
    channel.onmessage = (e) => this._onFrame(e.data);
    channel.onclose = () => this._lost(generation, 'channel closed');
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this._log('connection state', state);
      if (state === 'failed' || state === 'disconnected') this._lost(generation, `connection ${state}`);
    };
    const candidateUrl = signalingUrl(this.options.signalingUrl, 'candidate');
    pc.onicecandidate = (e) => {
      if (!e.candidate || generation !== this._generation) return;
      // carries the session secret: the server may see it before our offer
      postJSON(candidateUrl, {
        room: this.roomName, peer_id: this.peerId, candidate: { ...e.candidate.toJSON(), session: this.session },
      }, this._requestOptions()).catch((err) => this._log('candidate not delivered', err));
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const info = this.options.sendUserAgent
      ? { userAgent: globalThis.navigator?.userAgent, ...this.options.peerInfo }
      : { ...this.options.peerInfo };
    const reply = await postJSON(signalingUrl(this.options.signalingUrl, 'offer'), {
      room: this.roomName,
      peer_id: this.peerId,
      offer: { sdp: pc.localDescription.sdp, type: 'offer', session: this.session, protocol: PROTOCOL_VERSION, info },
    }, this._requestOptions());
    const answer = reply && reply.answer;
    if (!answer || typeof answer.sdp !== 'string') {
      throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, 'the /offer reply carries no answer');
    }
    if (answer.session && answer.session !== this.session) this.session = answer.session;
    await pc.setRemoteDescription({ type: answer.type || 'answer', sdp: answer.sdp });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new PeerPyRTCError(ErrorCodes.ERR_TIMEOUT,
        `the channel to room "${this.roomName}" did not open within ${this.options.connectTimeout} ms`)),
      this.options.connectTimeout);
    });
    try {
      await Promise.race([welcomed, timeout]);
    } catch (error) {
      if (generation === this._generation) this._retire(true); // this attempt only
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  _opened() {
    this._dropStale(); // the server has swapped connections: the old one is no longer ours
    this._setStatus('connected');
    this._startWatchdog(this._generation);
    this._flush();
    this._fire('onOpen', 'open');
  }

  // Heartbeat: ping a quiet server; call the connection lost if it stays silent.
  _startWatchdog(generation) {
    clearInterval(this._watchdog);
    this._lastHeard = Date.now();
    this._watchdog = setInterval(() => {
      if (generation !== this._generation) { clearInterval(this._watchdog); return; }
      const silent = Date.now() - this._lastHeard;
      if (silent > HEARTBEAT_TIMEOUT) this._lost(generation, `no word from the server for ${silent} ms`);
      else if (silent > HEARTBEAT_INTERVAL && this._channel?.readyState === 'open') {
        try { this._channel.send(PING); } catch { /* closing */ }
      }
    }, 1000);
  }

  _lost(generation, reason) {
    if (generation !== this._generation || this._closedByUser) return;
    if (this._welcome) {
      this._welcome.reject(new PeerPyRTCError(ErrorCodes.ERR_CONNECTION_FAILED, `connection to room "${this.roomName}" failed: ${reason}`));
      this._welcome = null;
      return;
    }
    if (this._status !== 'connected') return;
    this._log('connection lost:', reason);
    this._generation += 1;
    if (!this._mayReconnect) {
      this._teardown();
      // the server ended this session on purpose (replaced, flooding, too slow): final
      this._peers.clear();
      this._setStatus('closed');
      this._fire('onClose', 'close', this.closeReason || reason);
      return;
    }
    this._retire();
    this._reconnectUntil = Date.now() + this.options.reconnectTimeout;
    this._reconnect(1, this.closeReason || reason);
  }

  _reconnect(attempt, reason) {
    const max = this.options.maxReconnectAttempts;
    const delay = reconnectDelay(attempt, this.options.reconnectDelay);
    if (attempt > max || Date.now() + delay > this._reconnectUntil) {
      this._teardown();
      this._peers.clear();
      this._setStatus('failed');
      const error = new PeerPyRTCError(ErrorCodes.ERR_RECONNECT_FAILED,
        `lost room "${this.roomName}" (${reason}) and ${attempt - 1} reconnection attempts failed`);
      this._fire('onError', 'error', error);
      this._fire('onClose', 'close', reason);
      return;
    }
    this._setStatus('reconnecting');
    this._log(`reconnecting in ${delay} ms (attempt ${attempt})`);
    this._reconnectTimer = setTimeout(() => {
      if (this._closedByUser) return;
      this._open().then(() => this._opened(), (error) => {
        if (this._closedByUser) return;
        this._log('reconnection attempt failed', error);
        this._reconnect(attempt + 1, error.message);
      });
    }, delay);
  }

  // Detach the current connection; keep it open (as stale) until a new one is welcomed.
  _retire(close = false) {
    clearInterval(this._watchdog);
    const pc = this._pc;
    const channel = this._channel;
    this._pc = null;
    this._channel = null;
    if (channel) channel.onmessage = channel.onclose = channel.onbufferedamountlow = null;
    if (!pc) return;
    pc.onicecandidate = pc.onconnectionstatechange = null;
    if (close) {
      try { pc.close(); } catch { /* closed */ }
    } else {
      this._dropStale();
      this._stale = pc;
    }
  }

  _dropStale() {
    const pc = this._stale;
    this._stale = null;
    if (pc) try { pc.close(); } catch { /* closed */ }
  }

  _teardown() {
    this._retire();
    this._dropStale();
  }

  // --------------------------------------------------------- receiving
  _onFrame(frame) {
    this._lastHeard = Date.now();
    if (typeof frame !== 'string') return; // binary frames are not part of protocol v1
    let envelopes;
    try {
      envelopes = decodeFrame(frame);
    } catch (error) {
      this._log('bad frame from server', error);
      return;
    }
    for (const env of envelopes) {
      try {
        this._onEnvelope(env);
      } catch (error) {
        this._log('malformed envelope from server', env, error);
      }
    }
  }

  _onEnvelope(env) {
    switch (env.t) {
      case 'msg':
        this._fire('onMessage', 'message', env.from, env.d, undefined);
        this._events.emit('message', env.from, env.d);
        break;
      case 'emit':
      case 'bcast':
        this._fire('onMessage', 'message', env.from, env.d, env.e);
        this._events.emit(env.e, env.from, env.d);
        break;
      case 'welcome': {
        this._mayReconnect = true;
        this._peers = new Map((env.peers || []).map((p) => [p.id, p]));
        this.hostId = env.host ?? null;
        if (this._welcome) { this._welcome.resolve(); this._welcome = null; }
        this._roomUpdate();
        break;
      }
      case 'joined': {
        this._peers.set(env.peer.id, env.peer);
        this._fire('onPeerJoined', 'peer-joined', { ...env.peer, isHost: env.peer.id === this.hostId });
        this._roomUpdate();
        break;
      }
      case 'left': {
        const peer = this._peers.get(env.peer.id) || env.peer;
        this._peers.delete(env.peer.id);
        if ('host' in env) this.hostId = env.host;
        // the role it had when it left; the new host is announced after this
        this._fire('onPeerLeft', 'peer-left', { ...peer, isHost: !!env.peer.isHost, reason: env.reason });
        this._roomUpdate();
        break;
      }
      case 'host':
        this.hostId = env.host;
        this._roomUpdate();
        break;
      case 'error': {
        const error = new PeerPyRTCError(ErrorCodes.ERR_SERVER, env.message || 'server error', { serverCode: env.code });
        this._fire('onError', 'error', error);
        break;
      }
      case 'close':
        this._log('server is closing the connection:', env.reason);
        this.closeReason = env.reason;
        this._mayReconnect = !!env.reconnect;
        this._lost(this._generation, env.reason || 'closed by the server');
        break;
      case 'ping':
        try { this._channel.send(JSON.stringify({ t: 'pong', d: env.d ?? null })); } catch { /* closing */ }
        break;
      default:
        break; // unknown types are ignored: newer servers may send more
    }
  }

  _roomUpdate() {
    this._fire('onRoomUpdate', 'room-update', this.getRoomPeers());
  }

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

function beaconType(url) {
  try {
    const origin = globalThis.location?.origin;
    return origin && new URL(url, origin).origin === origin ? 'application/json' : 'text/plain';
  } catch {
    return 'text/plain';
  }
}
