/* peerpyrtc-client 0.3.0 | MIT | built from client/src by esbuild */

// src/backoff.js
var MAX_RECONNECT_DELAY = 3e4;
function reconnectDelay(attempt, base, random = Math.random) {
  const grown = Math.min(base * 2 ** (Math.max(1, attempt) - 1), MAX_RECONNECT_DELAY);
  return Math.round(grown * (0.75 + 0.5 * random()));
}

// src/emitter.js
var Emitter = class {
  constructor() {
    this._handlers = /* @__PURE__ */ new Map();
    this._any = /* @__PURE__ */ new Set();
    this.onHandlerError = (error, event) => console.error(`[peerpyrtc] handler for "${event}" threw`, error);
  }
  on(event, handler) {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    let set = this._handlers.get(event);
    if (!set) this._handlers.set(event, set = /* @__PURE__ */ new Set());
    const entry = (...args) => handler(...args);
    entry.original = handler;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }
  once(event, handler) {
    const off = this.on(event, (...args) => {
      off();
      handler(...args);
    });
    return off;
  }
  off(event, handler) {
    if (event === void 0) {
      this._handlers.clear();
      this._any.clear();
      return;
    }
    const set = this._handlers.get(event);
    if (!set) return;
    if (handler === void 0) {
      this._handlers.delete(event);
      return;
    }
    for (const entry of set) {
      if (entry.original === handler || entry === handler) {
        set.delete(entry);
        return;
      }
    }
  }
  onAny(handler) {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    const entry = (...args) => handler(...args);
    this._any.add(entry);
    return () => {
      this._any.delete(entry);
    };
  }
  listenerCount(event) {
    return this._handlers.get(event)?.size ?? 0;
  }
  emit(event, ...args) {
    const set = this._handlers.get(event);
    if (set) for (const entry of [...set]) this._call(entry, event, args);
    for (const entry of [...this._any]) this._call(entry, event, [event, ...args]);
  }
  _call(entry, event, args) {
    try {
      entry(...args);
    } catch (error) {
      this.onHandlerError(error, event);
    }
  }
};

// src/errors.js
var ErrorCodes = Object.freeze({
  ERR_INVALID_ARGUMENT: "ERR_INVALID_ARGUMENT",
  ERR_SIGNALING: "ERR_SIGNALING",
  ERR_PEER_ID_TAKEN: "ERR_PEER_ID_TAKEN",
  ERR_FORBIDDEN: "ERR_FORBIDDEN",
  ERR_TIMEOUT: "ERR_TIMEOUT",
  ERR_CONNECTION_FAILED: "ERR_CONNECTION_FAILED",
  ERR_RECONNECT_FAILED: "ERR_RECONNECT_FAILED",
  ERR_CLOSED: "ERR_CLOSED",
  ERR_QUEUE_FULL: "ERR_QUEUE_FULL",
  ERR_TOO_LARGE: "ERR_TOO_LARGE",
  ERR_SERVER: "ERR_SERVER"
});
var PeerPyRTCError = class extends Error {
  /**
   * @param {string} code one of ErrorCodes
   * @param {string} message what happened, for humans
   * @param {object} [details] extra facts (HTTP status, server code...)
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "PeerPyRTCError";
    this.code = code;
    Object.assign(this, details);
  }
};

// src/protocol.js
var PROTOCOL_VERSION = 1;
var CHANNEL_LABEL = "peerpyrtc";
var CHANNEL_PROTOCOL = "peerpyrtc.v1";
var MAX_FRAME_BYTES = 65536;
var MAX_ENVELOPE_BYTES = 65e3;
var encoder = new TextEncoder();
function byteLength(text) {
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}
function encodeMessage(message) {
  return JSON.stringify({ t: "msg", d: message });
}
function encodeEmit(event, data, to) {
  const env = { t: "emit", e: event, d: data === void 0 ? null : data };
  if (to !== void 0 && to !== null) env.to = to;
  return JSON.stringify(env);
}
function encodeBroadcast(event, data) {
  return JSON.stringify({ t: "bcast", e: event, d: data === void 0 ? null : data });
}
var BYE = JSON.stringify({ t: "bye" });
function batch(raws) {
  return raws.length === 1 ? raws[0] : `[${raws.join(",")}]`;
}
function frames(raws) {
  const out = [];
  let current = [];
  let size = 2;
  for (const raw of raws) {
    const length = byteLength(raw) + 1;
    if (current.length && size + length > MAX_FRAME_BYTES) {
      out.push(batch(current));
      current = [];
      size = 2;
    }
    current.push(raw);
    size += length;
  }
  if (current.length) out.push(batch(current));
  return out;
}
function decodeFrame(frame) {
  const value = JSON.parse(frame);
  const list = Array.isArray(value) ? value : [value];
  return list.filter((env) => env !== null && typeof env === "object" && typeof env.t === "string");
}

// src/signaling.js
var STATUS_CODES = { 403: ErrorCodes.ERR_FORBIDDEN, 409: ErrorCodes.ERR_PEER_ID_TAKEN, 413: ErrorCodes.ERR_TOO_LARGE };
function signalingUrl(base, path) {
  if (!base) return `/${path}`;
  return `${base.replace(/\/+$/, "")}/${path}`;
}
async function postJSON(url, payload, { timeout = 1e4, headers = {}, fetch: fetchImpl = globalThis.fetch } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  let text;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      signal: controller.signal
    });
    text = await response.text();
  } catch (error) {
    if (controller.signal.aborted) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TIMEOUT, `${url} did not answer within ${timeout} ms`, { url });
    }
    throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, `cannot reach ${url}: ${error.message}`, { url, cause: error });
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = void 0;
  }
  if (!response.ok) {
    const status = response.status;
    const code = STATUS_CODES[status] || ErrorCodes.ERR_SIGNALING;
    if (body && typeof body.error === "string") {
      throw new PeerPyRTCError(code, `${url} answered ${status}: ${body.error}`, { status, url, serverCode: body.code });
    }
    const snippet = (text || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 160);
    throw new PeerPyRTCError(code, `${url} answered ${status} (not JSON): ${snippet}`, { status, url });
  }
  if (body === void 0) {
    throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, `${url} answered with a body that is not JSON`, { url });
  }
  return body;
}

// src/connection.js
var HIGH_WATER = 1 << 20;
var HEARTBEAT_INTERVAL = 6e3;
var HEARTBEAT_TIMEOUT = 12e3;
var PING = JSON.stringify({ t: "ping" });
var LOW_WATER = 256 << 10;
function randomToken(bytes) {
  const data = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(data);
  let text = "";
  for (const b of data) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function generatePeerId() {
  return `peer-${randomToken(6).replace(/[-_]/g, "x")}`;
}
var DEFAULTS = Object.freeze({
  debug: false,
  // retried with capped, jittered backoff until reconnectTimeout has passed
  maxReconnectAttempts: Infinity,
  reconnectDelay: 2e3,
  reconnectTimeout: 12e4,
  sendUserAgent: false,
  iceServers: [],
  signalingUrl: "",
  peerInfo: {},
  requestTimeout: 1e4,
  connectTimeout: 15e3,
  maxQueuedMessages: 1e3,
  headers: {}
});
var WebRTCConnection = class {
  /**
   * @param {string} roomName the room to join
   * @param {object} [options] see DEFAULTS and index.d.ts
   */
  constructor(roomName, options = {}) {
    if (typeof roomName !== "string" || !roomName) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, "roomName must be a non-empty string");
    }
    this.roomName = roomName;
    this.options = { ...DEFAULTS, ...options };
    this.peerId = this.options.peerId || generatePeerId();
    this.session = randomToken(24);
    this.hostId = null;
    this.onOpen = null;
    this.onClose = null;
    this.onError = null;
    this.onMessage = null;
    this.onPeerJoined = null;
    this.onPeerLeft = null;
    this.onRoomUpdate = null;
    this.onStatusChange = null;
    this._events = new Emitter();
    this.lifecycle = new Emitter();
    this._peers = /* @__PURE__ */ new Map();
    this._status = "disconnected";
    this._pc = null;
    this._channel = null;
    this._outbox = [];
    this._flushScheduled = false;
    this._closedByUser = false;
    this._connectPromise = null;
    this._generation = 0;
    this._mayReconnect = true;
    this.closeReason = null;
    this._onPageHide = () => this._goodbye();
    globalThis.addEventListener?.("pagehide", this._onPageHide);
  }
  // ------------------------------------------------------------ state
  isConnected() {
    return this._status === "connected";
  }
  getConnectionStatus() {
    return this._status;
  }
  getRoomPeers() {
    return [...this._peers.values()].map((p) => ({ ...p, isHost: p.id === this.hostId, isSelf: p.id === this.peerId }));
  }
  getPeerCount() {
    return this._peers.size;
  }
  isRoomHost() {
    return this.hostId === this.peerId;
  }
  // ----------------------------------------------------------- events
  on(event, handler) {
    return this._events.on(event, handler);
  }
  once(event, handler) {
    return this._events.once(event, handler);
  }
  off(event, handler) {
    this._events.off(event, handler);
  }
  /** handler(event, senderId, data) for every user event, 'message' included. */
  onAny(handler) {
    return this._events.onAny(handler);
  }
  // --------------------------------------------------------- lifecycle
  /** Join the room. Resolves (with this connection) once the channel is open and the room state arrived. */
  connect() {
    if (this._closedByUser) {
      return Promise.reject(new PeerPyRTCError(ErrorCodes.ERR_CLOSED, "this connection was closed; create a new one"));
    }
    if (this._status === "connected") return Promise.resolve(this);
    if (!this._connectPromise) {
      this._setStatus("connecting");
      this._connectPromise = this._open().then(
        () => {
          this._connectPromise = null;
          this._opened();
          return this;
        },
        (error) => {
          this._connectPromise = null;
          this._teardown();
          if (this._closedByUser) throw error;
          this._setStatus("failed");
          this._fire("onError", "error", error);
          throw error;
        }
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
      this._welcome.reject(new PeerPyRTCError(ErrorCodes.ERR_CLOSED, "closeConnection() was called while connecting"));
      this._welcome = null;
    }
    globalThis.removeEventListener?.("pagehide", this._onPageHide);
    const wasConnected = this._status === "connected";
    const channel = this._channel;
    let saidBye = false;
    if (channel && channel.readyState === "open") {
      this._flush(true);
      try {
        channel.send(BYE);
        saidBye = true;
      } catch {
      }
    }
    this._outbox = [];
    if (!saidBye || !await this._serverClosed(channel, 3e3)) {
      await postJSON(
        signalingUrl(this.options.signalingUrl, "leave"),
        this._leaveBody(),
        this._requestOptions()
      ).catch((e) => this._log("leave failed", e));
    }
    this._teardown();
    this._peers.clear();
    this._setStatus("closed");
    if (wasConnected) this._fire("onClose", "close", "closed");
  }
  _requestOptions() {
    return { timeout: this.options.requestTimeout, headers: this.options.headers || {} };
  }
  _leaveBody() {
    return { room: this.roomName, peer_id: this.peerId, session: this.session };
  }
  _goodbye() {
    if (this._status !== "connected") return;
    try {
      this._channel.send(BYE);
    } catch {
    }
    const url = signalingUrl(this.options.signalingUrl, "leave");
    const body = new Blob([JSON.stringify(this._leaveBody())], { type: beaconType(url) });
    globalThis.navigator?.sendBeacon?.(url, body);
  }
  // ----------------------------------------------------------- sending
  sendMessage(message) {
    const text = typeof message === "string" ? message : JSON.stringify(message);
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
    if (typeof event !== "string" || !event || event.length > 128) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, "event must be a string of 1 to 128 characters");
    }
  }
  _enqueue(raw) {
    if (this._closedByUser) {
      throw new PeerPyRTCError(ErrorCodes.ERR_CLOSED, "cannot send: closeConnection() was called");
    }
    if (byteLength(raw) > MAX_ENVELOPE_BYTES) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `message is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    }
    if (this._status !== "connected" && this._outbox.length >= this.options.maxQueuedMessages) {
      throw new PeerPyRTCError(
        ErrorCodes.ERR_QUEUE_FULL,
        `not connected and ${this.options.maxQueuedMessages} messages already wait to be sent`
      );
    }
    this._outbox.push(raw);
    this._scheduleFlush();
  }
  _scheduleFlush() {
    if (this._flushScheduled || this._status !== "connected") return;
    this._flushScheduled = true;
    queueMicrotask(() => {
      this._flushScheduled = false;
      this._flush();
    });
  }
  _flush(force = false) {
    const channel = this._channel;
    if (!channel || channel.readyState !== "open" || !this._outbox.length) return;
    if (!force && channel.bufferedAmount > HIGH_WATER) return;
    const raws = this._outbox;
    this._outbox = [];
    for (const frame of frames(raws)) channel.send(frame);
  }
  // Resolves true once the server closes `channel` (it does after reading our goodbye).
  _serverClosed(channel, timeout) {
    return new Promise((resolve) => {
      if (channel.readyState === "closed") {
        resolve(true);
        return;
      }
      const timer = setTimeout(() => resolve(false), timeout);
      channel.addEventListener("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
  // ------------------------------------------------------- connecting
  async _open() {
    const generation = ++this._generation;
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
    channel.onclose = () => this._lost(generation, "channel closed");
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this._log("connection state", state);
      if (state === "failed" || state === "disconnected") this._lost(generation, `connection ${state}`);
    };
    const candidateUrl = signalingUrl(this.options.signalingUrl, "candidate");
    pc.onicecandidate = (e) => {
      if (!e.candidate || generation !== this._generation) return;
      postJSON(candidateUrl, {
        room: this.roomName,
        peer_id: this.peerId,
        candidate: { ...e.candidate.toJSON(), session: this.session }
      }, this._requestOptions()).catch((err) => this._log("candidate not delivered", err));
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const info = this.options.sendUserAgent ? { userAgent: globalThis.navigator?.userAgent, ...this.options.peerInfo } : { ...this.options.peerInfo };
    const reply = await postJSON(signalingUrl(this.options.signalingUrl, "offer"), {
      room: this.roomName,
      peer_id: this.peerId,
      offer: { sdp: pc.localDescription.sdp, type: "offer", session: this.session, protocol: PROTOCOL_VERSION, info }
    }, this._requestOptions());
    const answer = reply && reply.answer;
    if (!answer || typeof answer.sdp !== "string") {
      throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, "the /offer reply carries no answer");
    }
    if (answer.session && answer.session !== this.session) this.session = answer.session;
    await pc.setRemoteDescription({ type: answer.type || "answer", sdp: answer.sdp });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new PeerPyRTCError(
          ErrorCodes.ERR_TIMEOUT,
          `the channel to room "${this.roomName}" did not open within ${this.options.connectTimeout} ms`
        )),
        this.options.connectTimeout
      );
    });
    try {
      await Promise.race([welcomed, timeout]);
    } catch (error) {
      if (generation === this._generation) this._retire(true);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
  _opened() {
    this._dropStale();
    this._setStatus("connected");
    this._startWatchdog(this._generation);
    this._flush();
    this._fire("onOpen", "open");
  }
  // Heartbeat: ping a quiet server; call the connection lost if it stays silent.
  _startWatchdog(generation) {
    clearInterval(this._watchdog);
    this._lastHeard = Date.now();
    this._watchdog = setInterval(() => {
      if (generation !== this._generation) {
        clearInterval(this._watchdog);
        return;
      }
      const silent = Date.now() - this._lastHeard;
      if (silent > HEARTBEAT_TIMEOUT) this._lost(generation, `no word from the server for ${silent} ms`);
      else if (silent > HEARTBEAT_INTERVAL && this._channel?.readyState === "open") {
        try {
          this._channel.send(PING);
        } catch {
        }
      }
    }, 1e3);
  }
  _lost(generation, reason) {
    if (generation !== this._generation || this._closedByUser) return;
    if (this._welcome) {
      this._welcome.reject(new PeerPyRTCError(ErrorCodes.ERR_CONNECTION_FAILED, `connection to room "${this.roomName}" failed: ${reason}`));
      this._welcome = null;
      return;
    }
    if (this._status !== "connected") return;
    this._log("connection lost:", reason);
    this._generation += 1;
    if (!this._mayReconnect) {
      this._teardown();
      this._peers.clear();
      this._setStatus("closed");
      this._fire("onClose", "close", this.closeReason || reason);
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
      this._setStatus("failed");
      const error = new PeerPyRTCError(
        ErrorCodes.ERR_RECONNECT_FAILED,
        `lost room "${this.roomName}" (${reason}) and ${attempt - 1} reconnection attempts failed`
      );
      this._fire("onError", "error", error);
      this._fire("onClose", "close", reason);
      return;
    }
    this._setStatus("reconnecting");
    this._log(`reconnecting in ${delay} ms (attempt ${attempt})`);
    this._reconnectTimer = setTimeout(() => {
      if (this._closedByUser) return;
      this._open().then(() => this._opened(), (error) => {
        if (this._closedByUser) return;
        this._log("reconnection attempt failed", error);
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
      try {
        pc.close();
      } catch {
      }
    } else {
      this._dropStale();
      this._stale = pc;
    }
  }
  _dropStale() {
    const pc = this._stale;
    this._stale = null;
    if (pc) try {
      pc.close();
    } catch {
    }
  }
  _teardown() {
    this._retire();
    this._dropStale();
  }
  // --------------------------------------------------------- receiving
  _onFrame(frame) {
    this._lastHeard = Date.now();
    if (typeof frame !== "string") return;
    let envelopes;
    try {
      envelopes = decodeFrame(frame);
    } catch (error) {
      this._log("bad frame from server", error);
      return;
    }
    for (const env of envelopes) {
      try {
        this._onEnvelope(env);
      } catch (error) {
        this._log("malformed envelope from server", env, error);
      }
    }
  }
  _onEnvelope(env) {
    switch (env.t) {
      case "msg":
        this._fire("onMessage", "message", env.from, env.d, void 0);
        this._events.emit("message", env.from, env.d);
        break;
      case "emit":
      case "bcast":
        this._fire("onMessage", "message", env.from, env.d, env.e);
        this._events.emit(env.e, env.from, env.d);
        break;
      case "welcome": {
        this._mayReconnect = true;
        this._peers = new Map((env.peers || []).map((p) => [p.id, p]));
        this.hostId = env.host ?? null;
        if (this._welcome) {
          this._welcome.resolve();
          this._welcome = null;
        }
        this._roomUpdate();
        break;
      }
      case "joined": {
        this._peers.set(env.peer.id, env.peer);
        this._fire("onPeerJoined", "peer-joined", { ...env.peer, isHost: env.peer.id === this.hostId });
        this._roomUpdate();
        break;
      }
      case "left": {
        const peer = this._peers.get(env.peer.id) || env.peer;
        this._peers.delete(env.peer.id);
        if ("host" in env) this.hostId = env.host;
        this._fire("onPeerLeft", "peer-left", { ...peer, isHost: !!env.peer.isHost, reason: env.reason });
        this._roomUpdate();
        break;
      }
      case "host":
        this.hostId = env.host;
        this._roomUpdate();
        break;
      case "error": {
        const error = new PeerPyRTCError(ErrorCodes.ERR_SERVER, env.message || "server error", { serverCode: env.code });
        this._fire("onError", "error", error);
        break;
      }
      case "close":
        this._log("server is closing the connection:", env.reason);
        this.closeReason = env.reason;
        this._mayReconnect = !!env.reconnect;
        this._lost(this._generation, env.reason || "closed by the server");
        break;
      case "ping":
        try {
          this._channel.send(JSON.stringify({ t: "pong", d: env.d ?? null }));
        } catch {
        }
        break;
      default:
        break;
    }
  }
  _roomUpdate() {
    this._fire("onRoomUpdate", "room-update", this.getRoomPeers());
  }
  // ----------------------------------------------------------- helpers
  _setStatus(status) {
    if (this._status === status) return;
    this._status = status;
    this._log("status", status);
    this._fire("onStatusChange", "status", status);
  }
  _fire(callbackName, lifecycleEvent, ...args) {
    const callback = this[callbackName];
    if (typeof callback === "function") {
      try {
        callback.apply(this, args);
      } catch (error) {
        console.error(`[peerpyrtc] ${callbackName} threw`, error);
      }
    }
    this.lifecycle.emit(lifecycleEvent, ...args);
  }
  _log(...args) {
    if (this.options.debug) console.debug(`[peerpyrtc ${this.roomName}/${this.peerId}]`, ...args);
  }
};
function beaconType(url) {
  try {
    const origin = globalThis.location?.origin;
    return origin && new URL(url, origin).origin === origin ? "application/json" : "text/plain";
  } catch {
    return "text/plain";
  }
}

// src/room-manager.js
var WebRTCRoomManager = class {
  /**
   * @param {string} userId this user's peer id in every room
   * @param {object} [options] WebRTCConnection options shared by every room
   */
  constructor(userId, options = {}) {
    if (typeof userId !== "string" || !userId) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, "userId must be a non-empty string");
    }
    this.userId = userId;
    this.options = { ...options, peerId: userId };
    this.rooms = /* @__PURE__ */ new Map();
    this._pending = /* @__PURE__ */ new Map();
    this._global = new Emitter();
    this._perRoom = /* @__PURE__ */ new Map();
    this._unsubscribe = /* @__PURE__ */ new Map();
    this.onRoomJoined = null;
    this.onRoomLeft = null;
    this.onConnectionChange = null;
  }
  /** handler(roomId, senderId, data) for `event` in every room ('message' for plain messages). */
  on(event, handler) {
    return this._global.on(event, handler);
  }
  once(event, handler) {
    return this._global.once(event, handler);
  }
  off(event, handler) {
    this._global.off(event, handler);
  }
  /** handler(roomId, senderId, data) for `event` in one room. */
  onRoom(roomId, event, handler) {
    let emitter = this._perRoom.get(roomId);
    if (!emitter) this._perRoom.set(roomId, emitter = new Emitter());
    return emitter.on(event, handler);
  }
  offRoom(roomId, event, handler) {
    this._perRoom.get(roomId)?.off(event, handler);
  }
  /** Join one room (or return its live connection). */
  async joinRoom(roomId, options = {}) {
    const existing = this.rooms.get(roomId);
    if (existing && existing.getConnectionStatus() !== "closed" && existing.getConnectionStatus() !== "failed") {
      return existing.isConnected() ? existing : existing.connect();
    }
    if (this._pending.has(roomId)) return this._pending.get(roomId);
    const connection = new WebRTCConnection(roomId, { ...this.options, ...options, peerId: this.userId });
    this._wire(roomId, connection);
    const joining = connection.connect().then(
      () => {
        this._pending.delete(roomId);
        this.rooms.set(roomId, connection);
        this._call("onRoomJoined", roomId, connection);
        return connection;
      },
      (error) => {
        this._pending.delete(roomId);
        this._unwire(roomId);
        throw error;
      }
    );
    this._pending.set(roomId, joining);
    return joining;
  }
  /** Join several rooms; one result per room, and one failure does not sink the rest. */
  async joinRooms(roomIds, options = {}) {
    const settled = await Promise.allSettled(roomIds.map((id) => this.joinRoom(id, options)));
    return settled.map((result, i) => ({
      roomId: roomIds[i],
      success: result.status === "fulfilled",
      connection: result.status === "fulfilled" ? result.value : null,
      error: result.status === "rejected" ? result.reason : null
    }));
  }
  async leaveRoom(roomId) {
    const connection = this.rooms.get(roomId);
    if (!connection) return false;
    this.rooms.delete(roomId);
    this._unwire(roomId);
    await connection.closeConnection();
    this._call("onRoomLeft", roomId);
    return true;
  }
  async leaveAllRooms() {
    await Promise.all([...this.rooms.keys()].map((id) => this.leaveRoom(id)));
  }
  emit(roomId, event, data, options) {
    this._require(roomId).emit(event, data, options);
  }
  sendMessage(roomId, message) {
    this._require(roomId).sendMessage(message);
  }
  broadcast(roomId, event, data) {
    this._require(roomId).broadcast(event, data);
  }
  /** Emit in a room, joining it first if needed. */
  async autoEmit(roomId, event, data, options) {
    const connection = await this.joinRoom(roomId);
    connection.emit(event, data, options);
    return connection;
  }
  /** Broadcast `event` in every connected room. */
  broadcastToAll(event, data) {
    const sent = [];
    for (const [roomId, connection] of this.rooms) {
      if (connection.isConnected()) {
        connection.broadcast(event, data);
        sent.push(roomId);
      }
    }
    return sent;
  }
  getRoom(roomId) {
    return this.rooms.get(roomId) || null;
  }
  getRoomIds() {
    return [...this.rooms.keys()];
  }
  isConnectedTo(roomId) {
    return !!this.rooms.get(roomId)?.isConnected();
  }
  getStatus() {
    const rooms = {};
    for (const [roomId, connection] of this.rooms) {
      rooms[roomId] = { status: connection.getConnectionStatus(), peers: connection.getPeerCount(), isHost: connection.isRoomHost() };
    }
    return {
      userId: this.userId,
      rooms,
      totalRooms: this.rooms.size,
      connectedRooms: Object.values(rooms).filter((r) => r.status === "connected").length
    };
  }
  _require(roomId) {
    const connection = this.rooms.get(roomId);
    if (!connection) {
      throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, `not in room "${roomId}": call joinRoom() first`);
    }
    return connection;
  }
  _wire(roomId, connection) {
    const offs = [
      connection.onAny((event, senderId, data) => {
        this._global.emit(event, roomId, senderId, data);
        this._perRoom.get(roomId)?.emit(event, roomId, senderId, data);
      }),
      connection.lifecycle.on("status", (status) => this._call("onConnectionChange", roomId, status))
    ];
    this._unsubscribe.set(roomId, offs);
  }
  _unwire(roomId) {
    for (const off of this._unsubscribe.get(roomId) || []) off();
    this._unsubscribe.delete(roomId);
  }
  _call(name, ...args) {
    const callback = this[name];
    if (typeof callback !== "function") return;
    try {
      callback.apply(this, args);
    } catch (error) {
      console.error(`[peerpyrtc] ${name} threw`, error);
    }
  }
};
export {
  DEFAULTS,
  Emitter,
  ErrorCodes,
  PROTOCOL_VERSION,
  PeerPyRTCError,
  WebRTCConnection,
  WebRTCRoomManager,
  generatePeerId,
  reconnectDelay
};
