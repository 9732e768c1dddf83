/* peerpyrtc-client 0.4.0-dev.0 | MIT | built from client/src by esbuild */
(function (root, factory) {
  if (typeof define === 'function' && define.amd) define([], factory);
  else if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.WebRTCConnection = factory();
})(typeof self !== 'undefined' ? self : this, function () {
var module = { exports: {} };
var exports = module.exports;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/index.js
var index_exports = {};
__export(index_exports, {
  DEFAULTS: () => DEFAULTS,
  Emitter: () => Emitter,
  ErrorCodes: () => ErrorCodes,
  PROTOCOL_VERSION: () => PROTOCOL_VERSION,
  PeerPyRTCError: () => PeerPyRTCError,
  WebRTCConnection: () => WebRTCConnection,
  WebRTCRoomManager: () => WebRTCRoomManager,
  generatePeerId: () => generatePeerId,
  reconnectDelay: () => reconnectDelay
});
module.exports = __toCommonJS(index_exports);

// src/backoff.js
var MAX_RECONNECT_DELAY = 3e4;
function reconnectDelay(attempt, base, random = Math.random) {
  const grown = Math.min(base * 2 ** (Math.max(1, attempt) - 1), MAX_RECONNECT_DELAY);
  return Math.round(grown * (0.75 + 0.5 * random()));
}
async function retry(attempt, retryable, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1e3)) {
    try {
      return await attempt();
    } catch (error) {
      const wait = delay * (0.5 + Math.random());
      if (!retryable(error) || Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
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
  ERR_ROOM_FULL: "ERR_ROOM_FULL",
  ERR_FORBIDDEN: "ERR_FORBIDDEN",
  ERR_TIMEOUT: "ERR_TIMEOUT",
  ERR_CONNECTION_FAILED: "ERR_CONNECTION_FAILED",
  ERR_RECONNECT_FAILED: "ERR_RECONNECT_FAILED",
  ERR_CLOSED: "ERR_CLOSED",
  ERR_QUEUE_FULL: "ERR_QUEUE_FULL",
  ERR_TOO_LARGE: "ERR_TOO_LARGE",
  ERR_NOT_CONNECTED: "ERR_NOT_CONNECTED",
  ERR_SERVER: "ERR_SERVER",
  ERR_TURN_AUTH: "ERR_TURN_AUTH",
  ERR_ICE_SERVER_UNREACHABLE: "ERR_ICE_SERVER_UNREACHABLE",
  ERR_ICE_SERVER: "ERR_ICE_SERVER"
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
function isFinalRefusal(error) {
  if (error?.code === ErrorCodes.ERR_ROOM_FULL) return true;
  return [400, 401, 403, 404, 409, 413].includes(error?.status);
}

// src/heartbeat.js
var HEARTBEAT_INTERVAL = 6e3;
var HEARTBEAT_TIMEOUT = 12e3;
var Heartbeat = class {
  /**
   * @param {() => void} ping send a ping
   * @param {(reason: string) => void} lost the server has been silent too long
   */
  constructor(ping, lost, { interval = HEARTBEAT_INTERVAL, timeout = HEARTBEAT_TIMEOUT, tick = 1e3 } = {}) {
    Object.assign(this, { ping, lost, interval, timeout, tick });
    this._timer = null;
    this._lastHeard = 0;
  }
  start() {
    this.stop();
    this._lastHeard = Date.now();
    this._timer = setInterval(() => this._tick(), this.tick);
  }
  /** Anything from the server counts. */
  heard() {
    this._lastHeard = Date.now();
  }
  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }
  _tick() {
    const silent = Date.now() - this._lastHeard;
    if (silent > this.timeout) {
      this.stop();
      this.lost(`no word from the server for ${silent} ms`);
    } else if (silent > this.interval) {
      this.ping();
    }
  }
};

// src/binary.js
var CHUNK_FRAME_BYTES = 16 * 1024;
var STAMP_ROOM = 320;
var MAX_DEPTH = 32;
var encoder = new TextEncoder();
var decoder = new TextDecoder("utf-8", { fatal: true });
var isBlob = (v) => typeof Blob !== "undefined" && v instanceof Blob;
var isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v) || isBlob(v);
function hasBinary(value, depth = 0) {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return false;
  if (isBinary(value)) return true;
  if (Array.isArray(value)) return value.some((v) => hasBinary(v, depth + 1));
  return Object.values(value).some((v) => hasBinary(v, depth + 1));
}
async function readBlobs(value, depth = 0) {
  if (isBlob(value)) return value.arrayBuffer();
  if (value === null || typeof value !== "object" || isBinary(value) || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => readBlobs(v, depth + 1)));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = await readBlobs(v, depth + 1);
  return out;
}
function bytesOf(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
function extract(value, attachments, depth = 0) {
  if (value !== null && typeof value === "object") {
    if (isBinary(value)) {
      attachments.push(bytesOf(value));
      return { _placeholder: true, num: attachments.length - 1 };
    }
    if (depth > MAX_DEPTH) throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, "data nested too deep");
    if (typeof value.toJSON === "function") return value;
    if (Array.isArray(value)) return value.map((v) => extract(v, attachments, depth + 1));
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = extract(v, attachments, depth + 1);
    return out;
  }
  return value;
}
function restore(value, attachments) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => restore(v, attachments));
  const keys = Object.keys(value);
  if (value._placeholder === true && keys.length === 2 && Number.isInteger(value.num)) {
    if (value.num < 0 || value.num >= attachments.length) throw new Error("a placeholder names no attachment");
    return attachments[value.num];
  }
  const out = {};
  for (const k of keys) out[k] = restore(value[k], attachments);
  return out;
}
function pack(header, payload = new Uint8Array(0)) {
  const head = encoder.encode(header);
  const frame = new Uint8Array(4 + head.length + payload.length);
  new DataView(frame.buffer).setUint32(0, head.length);
  frame.set(head, 4);
  frame.set(payload, 4 + head.length);
  return frame;
}
function encodeFrames(routing, data, messageId, maxBytes, frameBytes = CHUNK_FRAME_BYTES) {
  const attachments = [];
  const json = JSON.stringify(extract(data === void 0 ? null : data, attachments));
  const text = encoder.encode(json === void 0 ? "null" : json);
  const total = text.length + attachments.reduce((n, a) => n + a.length, 0);
  if (total > maxBytes) {
    throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `the message is larger than ${maxBytes} bytes`);
  }
  const body = new Uint8Array(total);
  body.set(text, 0);
  let at = text.length;
  for (const a of attachments) {
    body.set(a, at);
    at += a.length;
  }
  const head = { ...routing, j: text.length };
  if (attachments.length) head.b = attachments.map((a) => a.length);
  const single = JSON.stringify(head);
  if (4 + encoder.encode(single).length + total + STAMP_ROOM <= frameBytes) {
    return { frames: [pack(single, body)], sizes: [total], total };
  }
  Object.assign(head, { m: messageId, z: total });
  const first = JSON.stringify(head);
  const frames2 = [];
  const sizes = [];
  let offset = 0;
  let header = first;
  while (offset < total) {
    const room = frameBytes - 4 - encoder.encode(header).length - STAMP_ROOM;
    const slice = body.subarray(offset, offset + room);
    frames2.push(pack(header, slice));
    sizes.push(slice.length);
    offset += slice.length;
    header = JSON.stringify({ t: "part", m: messageId, o: offset });
  }
  return { frames: frames2, sizes, total };
}
function parseFrame(frame) {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length < 4) throw new Error("a binary frame is at least 4 bytes");
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (length < 2 || 4 + length > bytes.length) throw new Error("a binary frame's header length is out of range");
  const header = JSON.parse(decoder.decode(bytes.subarray(4, 4 + length)));
  if (header === null || typeof header !== "object" || typeof header.t !== "string") {
    throw new Error("a binary frame's header must be an object with 't'");
  }
  return { header, payload: bytes.subarray(4 + length) };
}
function count(v) {
  return Number.isSafeInteger(v) && v >= 0;
}
function decodeBody(header, payload) {
  const j = header.j || 0;
  const lengths = Array.isArray(header.b) ? header.b : [];
  if (!count(j) || !lengths.every(count) || j + lengths.reduce((n, x) => n + x, 0) !== payload.length) {
    throw new Error("the payload's length must be 'j' plus the attachments");
  }
  const data = j ? JSON.parse(decoder.decode(payload.subarray(0, j))) : null;
  if (!lengths.length) return data;
  const attachments = [];
  let at = j;
  for (const length of lengths) {
    attachments.push(payload.slice(at, at + length).buffer);
    at += length;
  }
  return restore(data, attachments);
}
var Reassembly = class {
  constructor(maxMessages = 64, maxBytes = 128 * 1024 * 1024) {
    Object.assign(this, { maxMessages, maxBytes, held: 0 });
    this.partial = /* @__PURE__ */ new Map();
  }
  get size() {
    return this.partial.size;
  }
  /** One frame of a large message: `{first, got, body}` (body once complete). Throws on a bad one. */
  add(sender, header, payload) {
    const key = `${sender}
${header.m}`;
    if (!count(header.m)) throw new Error("a large message's frame needs 'm'");
    let entry = this.partial.get(key);
    if (header.t !== "part") {
      if (entry) this.drop(key);
      if (!count(header.z)) throw new Error("a large message's first frame needs 'z'");
      if (this.partial.size >= this.maxMessages) throw new Error("too many large messages at once");
      entry = { first: header, parts: [], got: 0 };
      this.partial.set(key, entry);
    } else if (!entry || header.o !== entry.got) {
      if (entry) this.drop(key);
      throw new Error(`a part of message ${header.m} out of order or not in progress`);
    }
    if (entry.got + payload.length > entry.first.z || this.held + payload.length > this.maxBytes) {
      this.drop(key);
      throw new Error(`message ${header.m} runs past its end or past the bytes held`);
    }
    entry.parts.push(payload.slice());
    entry.got += payload.length;
    this.held += payload.length;
    if (entry.got < entry.first.z) return { first: entry.first, got: entry.got, body: null };
    this.drop(key);
    const body = new Uint8Array(entry.got);
    let at = 0;
    for (const part of entry.parts) {
      body.set(part, at);
      at += part.length;
    }
    return { first: entry.first, got: entry.got, body };
  }
  drop(key) {
    const entry = this.partial.get(key);
    if (!entry) return;
    this.held -= entry.got;
    this.partial.delete(key);
  }
  dropMessage(sender, messageId) {
    this.drop(`${sender}
${messageId}`);
  }
  dropSender(sender) {
    for (const key of [...this.partial.keys()]) if (key.startsWith(`${sender}
`)) this.drop(key);
  }
  clear() {
    this.partial.clear();
    this.held = 0;
  }
};

// src/ice-errors.js
var AUTH_FAILURES = [401, 403, 431];
function iceServerError(event) {
  const url = event?.url || "";
  if (!/^(stuns?|turns?):/.test(url)) return null;
  const status = event.errorCode;
  let code = ErrorCodes.ERR_ICE_SERVER;
  let what = "refused";
  if (url.startsWith("turn") && AUTH_FAILURES.includes(status)) {
    code = ErrorCodes.ERR_TURN_AUTH;
    what = "refused the credentials";
  } else if (status >= 700 && status < 800) {
    code = ErrorCodes.ERR_ICE_SERVER_UNREACHABLE;
    what = "could not be reached";
  }
  const text = event.errorText ? ` ${event.errorText}` : "";
  return new PeerPyRTCError(code, `ICE server ${url} ${what}: ${status}${text}`, { url, iceStatus: status });
}
function worse(current, next) {
  if (!next) return current;
  if (current?.code === ErrorCodes.ERR_TURN_AUTH) return current;
  return next;
}
function explainFailure(failure, iceError) {
  const generic = [ErrorCodes.ERR_CONNECTION_FAILED, ErrorCodes.ERR_TIMEOUT];
  if (!iceError || !generic.includes(failure?.code)) return failure;
  return new PeerPyRTCError(
    iceError.code,
    `${failure.message}: ${iceError.message}`,
    { url: iceError.url, iceStatus: iceError.iceStatus, cause: failure }
  );
}

// src/protocol.js
var PROTOCOL_VERSION = 1;
var CHANNEL_LABEL = "peerpyrtc";
var CHANNEL_PROTOCOL = "peerpyrtc.v1";
var VOLATILE_LABEL = "peerpyrtc.volatile";
var MAX_FRAME_BYTES = 65536;
var MAX_ENVELOPE_BYTES = 65e3;
var encoder2 = new TextEncoder();
function byteLength(text) {
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder2.encode(text).length;
}
function encodeMessage(message) {
  return JSON.stringify({ t: "msg", d: message });
}
function checkEvent(event) {
  if (typeof event !== "string" || !event || event.length > 128) {
    throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, "event must be a string of 1 to 128 characters");
  }
}
function encodeEmit(event, data, to) {
  checkEvent(event);
  const env = { t: "emit", e: event, d: data === void 0 ? null : data };
  if (to !== void 0 && to !== null) env.to = to;
  return JSON.stringify(env);
}
function encodeBroadcast(event, data) {
  checkEvent(event);
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
var SERVER_CODES = { ERR_ROOM_FULL: ErrorCodes.ERR_ROOM_FULL };
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
    const code = SERVER_CODES[body?.code] || STATUS_CODES[status] || ErrorCodes.ERR_SIGNALING;
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

// src/transport.js
var HIGH_WATER = 1 << 20;
var LOW_WATER = 256 << 10;
var VOLATILE_HIGH_WATER = 64 << 10;
var RelayTransport = class {
  /**
   * @param {object} init
   * @param {string} init.room
   * @param {string} init.peerId
   * @param {string} init.session the session secret (it proves the peer on /candidate, /leave)
   * @param {object} init.options the connection's options (signalingUrl, iceServers, headers, ...)
   * @param {(frame: string|ArrayBuffer) => void} init.onFrame every frame from the server
   * @param {(reason: string) => void} init.onLost the connection went away (not by close())
   * @param {() => void} [init.onDrain] the channel can take more
   * @param {(...args: unknown[]) => void} [init.log]
   */
  constructor({ room, peerId, session, options, onFrame, onLost, onDrain, log }) {
    Object.assign(this, { room, peerId, session, options });
    this.onFrame = onFrame;
    this.onLost = onLost;
    this.onDrain = onDrain || (() => {
    });
    this.log = log || (() => {
    });
    this.pc = null;
    this.channel = null;
    this.volatile = null;
    this.iceError = null;
  }
  get isOpen() {
    return !!this.channel && this.channel.readyState === "open";
  }
  get bufferedAmount() {
    return this.channel ? this.channel.bufferedAmount : 0;
  }
  setLowWater(bytes) {
    if (this.channel) this.channel.bufferedAmountLowThreshold = bytes;
  }
  requestOptions() {
    return { timeout: this.options.requestTimeout, headers: this.options.headers || {} };
  }
  url(route) {
    return signalingUrl(this.options.signalingUrl, route);
  }
  /**
   * The ICE servers to use: the server's (POST /ice: STUN, and TURN credentials minted for this
   * peer) and the page's own `iceServers`. A server without the route (404) hands out none.
   */
  async fetchIceServers() {
    const own = this.options.iceServers || [];
    if (this.options.fetchIceServers === false) return own;
    try {
      const reply = await postJSON(
        this.url("ice"),
        { room: this.room, peer_id: this.peerId, session: this.session },
        this.requestOptions()
      );
      return [...Array.isArray(reply?.iceServers) ? reply.iceServers : [], ...own];
    } catch (error) {
      this.log("no ICE servers from the server", error);
      return own;
    }
  }
  /** Offer, answer, channel: resolves with the answer's session once the answer is applied. */
  async open(info) {
    this.iceServers = await this.fetchIceServers();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.options.iceTransportPolicy || "all"
    });
    const channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: true, protocol: CHANNEL_PROTOCOL });
    this.pc = pc;
    this.channel = channel;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onbufferedamountlow = () => this.onDrain();
    channel.onmessage = (e) => this.onFrame(e.data);
    this.volatile = pc.createDataChannel(VOLATILE_LABEL, { ordered: false, maxRetransmits: 0, protocol: CHANNEL_PROTOCOL });
    this.volatile.binaryType = "arraybuffer";
    this.volatile.onmessage = (e) => this.onFrame(e.data);
    channel.onclose = () => this.onLost("channel closed");
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this.log("connection state", state);
      if (state === "failed" || state === "disconnected") this.onLost(`connection ${state}`);
    };
    pc.onicecandidateerror = (e) => {
      const error = iceServerError(e);
      if (error) this.log(error.message);
      this.iceError = worse(this.iceError, error);
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate || this.pc !== pc) return;
      postJSON(this.url("candidate"), {
        room: this.room,
        peer_id: this.peerId,
        candidate: { ...e.candidate.toJSON(), session: this.session }
      }, this.requestOptions()).catch((err) => this.log("candidate not delivered", err));
    };
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await postJSON(this.url("offer"), {
      room: this.room,
      peer_id: this.peerId,
      offer: { sdp: pc.localDescription.sdp, type: "offer", session: this.session, protocol: PROTOCOL_VERSION, info }
    }, this.requestOptions());
    const answer = reply && reply.answer;
    if (!answer || typeof answer.sdp !== "string") {
      throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, "the /offer reply carries no answer");
    }
    if (answer.session) this.session = answer.session;
    await pc.setRemoteDescription({ type: answer.type || "answer", sdp: answer.sdp });
    return this.session;
  }
  /** A failed or timed-out attempt: the ICE server's refusal, if there was one, says why. */
  explain(failure) {
    return explainFailure(failure, this.iceError);
  }
  /** Hand one frame to the channel (throws when it is not open). */
  send(frame) {
    this.channel.send(frame);
  }
  /** Send on the volatile channel now, or drop (false) while it is behind; without it, by the
   * room channel when that is idle. */
  sendVolatile(frame) {
    const volatile = this.volatile;
    try {
      if (volatile && volatile.readyState === "open") {
        if (volatile.bufferedAmount > VOLATILE_HIGH_WATER) return false;
        volatile.send(frame);
        return true;
      }
      if (!this.isOpen || this.channel.bufferedAmount > 0) return false;
      this.channel.send(frame);
      return true;
    } catch {
      return false;
    }
  }
  /** Say goodbye after everything sent; true once the server closed the channel (it has read all). */
  async sayGoodbye(timeout = 3e3) {
    const channel = this.channel;
    if (!this.isOpen) return false;
    try {
      channel.send(BYE);
    } catch {
      return false;
    }
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
  /** Leave over HTTP (when the channel cannot carry the goodbye). */
  leave() {
    return postJSON(this.url("leave"), this.leaveBody(), this.requestOptions());
  }
  /** A closing tab: goodbye over the channel and a beacon that survives the page. */
  goodbyeOnUnload() {
    try {
      this.channel.send(BYE);
    } catch {
    }
    const url = this.url("leave");
    const body = new Blob([JSON.stringify(this.leaveBody())], { type: beaconType(url) });
    globalThis.navigator?.sendBeacon?.(url, body);
  }
  leaveBody() {
    return { room: this.room, peer_id: this.peerId, session: this.session };
  }
  /** Stop listening; keep the peer connection open (the server still holds it) until close(). */
  detach() {
    const { pc, channel } = this;
    if (channel) channel.onmessage = channel.onclose = channel.onbufferedamountlow = null;
    if (this.volatile) this.volatile.onmessage = null;
    if (pc) pc.onicecandidate = pc.onconnectionstatechange = pc.onicecandidateerror = null;
  }
  close() {
    this.detach();
    const { pc, channel } = this;
    const volatile = this.volatile;
    this.pc = this.channel = this.volatile = null;
    if (volatile) try {
      volatile.close();
    } catch {
    }
    if (channel) try {
      channel.close();
    } catch {
    }
    if (pc) try {
      pc.close();
    } catch {
    }
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

// src/peer-link.js
var CHANNEL_ID = 0;
var VOLATILE_CHANNEL_ID = 1;
var PeerLink = class {
  /**
   * @param {object} init
   * @param {string} init.peerId the other peer
   * @param {string} init.linkId this link's id (the initiator's; the same on both sides)
   * @param {boolean} init.polite whether this side yields when offers collide
   * @param {RTCConfiguration} init.config ICE servers and policy
   * @param {(d: object) => void} init.signal sends one signal to the other peer
   * @param {(frame: string) => void} init.onFrame a frame from the other peer
   * @param {(frame: string|ArrayBuffer) => void} [init.onVolatile] a volatile frame from it
   * @param {() => void} init.onOpen the channel opened
   * @param {() => void} [init.onDrain] the channel went below its low-water mark
   * @param {(reason: string) => void} init.onClosed the link is gone (once)
   * @param {(...args: unknown[]) => void} [init.log]
   */
  constructor({ peerId, linkId, polite, config, signal, onFrame, onVolatile, onOpen, onDrain, onClosed, log }) {
    Object.assign(this, { peerId, linkId, polite, signal, onFrame, onOpen, onClosed });
    this.onVolatile = onVolatile || (() => {
    });
    this.onDrain = onDrain || (() => {
    });
    this.log = log || (() => {
    });
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    const channel = pc.createDataChannel("peerpyrtc-direct", { negotiated: true, id: CHANNEL_ID, ordered: true });
    this.channel = channel;
    channel.onopen = () => {
      if (!this.closed) this.onOpen();
    };
    channel.onmessage = (e) => {
      if (!this.closed && typeof e.data === "string") this.onFrame(e.data);
    };
    channel.onclose = () => this.close("channel closed");
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onbufferedamountlow = () => {
      if (!this.closed) this.onDrain();
    };
    const volatile = pc.createDataChannel("peerpyrtc-direct-volatile", { negotiated: true, id: VOLATILE_CHANNEL_ID, ordered: false, maxRetransmits: 0 });
    this.volatile = volatile;
    volatile.binaryType = "arraybuffer";
    volatile.onmessage = (e) => {
      if (!this.closed) this.onVolatile(e.data);
    };
    pc.onicecandidate = (e) => {
      if (e.candidate && !this.closed) this.signal({ k: "neg", link: this.linkId, candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.close(`connection ${pc.connectionState}`);
    };
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ k: "neg", link: this.linkId, description: pc.localDescription.toJSON() });
      } catch (error) {
        this.log("direct offer failed", this.peerId, error);
      } finally {
        this.makingOffer = false;
      }
    };
  }
  get isOpen() {
    return !this.closed && this.channel.readyState === "open";
  }
  /** One negotiation signal from the other peer (a description or a candidate). */
  async receive(d) {
    if (this.closed) return;
    const pc = this.pc;
    try {
      if (d.description) {
        const offer = d.description.type === "offer";
        const collision = offer && (this.makingOffer || pc.signalingState !== "stable");
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(d.description);
        if (offer) {
          await pc.setLocalDescription();
          this.signal({ k: "neg", link: this.linkId, description: pc.localDescription.toJSON() });
        }
      } else if (d.candidate) {
        try {
          await pc.addIceCandidate(d.candidate);
        } catch (error) {
          if (!this.ignoreOffer) throw error;
        }
      }
    } catch (error) {
      this.log("direct negotiation failed", this.peerId, error);
      this.close("negotiation failed");
    }
  }
  send(frame) {
    this.channel.send(frame);
  }
  get volatileOpen() {
    return !this.closed && this.volatile.readyState === "open";
  }
  /** Send a volatile frame now, or drop it (false) while the channel is behind. */
  sendVolatile(frame) {
    if (!this.volatileOpen || this.volatile.bufferedAmount > VOLATILE_HIGH_WATER) return false;
    this.volatile.send(frame);
    return true;
  }
  get bufferedAmount() {
    return this.channel.bufferedAmount;
  }
  close(reason = "closed") {
    if (this.closed) return;
    this.closed = true;
    const { pc, channel, volatile } = this;
    channel.onopen = channel.onmessage = channel.onclose = channel.onbufferedamountlow = null;
    volatile.onmessage = null;
    try {
      volatile.close();
    } catch {
    }
    pc.onicecandidate = pc.onconnectionstatechange = pc.onnegotiationneeded = null;
    try {
      channel.close();
    } catch {
    }
    try {
      pc.close();
    } catch {
    }
    this.onClosed(reason);
  }
};

// src/mesh-volatile.js
var MAX_VOLATILE_BYTES = 16 * 1024;
var decoder2 = new TextDecoder();
function routeVolatile(mesh, frame, to) {
  if (!mesh.active || !mesh.pairs.size) return frame;
  const { selfId } = mesh.host;
  const targets = to != null ? [to] : mesh.host.members().filter((id) => id !== selfId);
  const direct = [];
  for (const id of targets) {
    const pair = mesh.pairs.get(id);
    if (!pair || !pair.volatile || !pair.canSend || !pair.link.volatileOpen) continue;
    pair.link.sendVolatile(frame);
    direct.push(id);
  }
  if (!direct.length) return frame;
  if (to != null || direct.length === targets.length) return null;
  return withSkip(frame, direct);
}
function withSkip(frame, peers) {
  const skip = `,"x":${JSON.stringify(peers)}}`;
  if (typeof frame === "string") return frame.trimEnd().slice(0, -1) + skip;
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const header = decoder2.decode(bytes.subarray(4, 4 + length)).trimEnd();
  return pack(header.slice(0, -1) + skip, bytes.subarray(4 + length));
}
function volatileEnvelope(frame) {
  try {
    if (typeof frame === "string") {
      if (byteLength(frame) > MAX_VOLATILE_BYTES) return null;
      const env = JSON.parse(frame);
      return validEmit(env) ? { t: "emit", e: env.e, d: env.d } : null;
    }
    if (frame.byteLength > MAX_VOLATILE_BYTES) return null;
    const { header, payload } = parseFrame(frame);
    if (!validEmit(header) || header.m !== void 0 || "from" in header || "n" in header) return null;
    return { t: "emit", e: header.e, d: decodeBody(header, payload) };
  } catch {
    return null;
  }
}
function validEmit(env) {
  return env !== null && typeof env === "object" && env.t === "emit" && typeof env.e === "string" && env.e.length > 0 && env.e.length <= 128;
}

// src/options.js
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
  headers: {},
  // (init) => transport; the relay transport unless a test or a later topology says otherwise
  createTransport: (init) => new RelayTransport(init),
  meshIceTransportPolicy: "all",
  iceTransportPolicy: "all",
  fetchIceServers: true
});

// src/mesh.js
var MAX_DIRECT_BYTES = 64e3;
var ACK_EVERY = 32;
var ACK_AFTER_MS = 100;
var ACK_FRAME_BYTES = 16 * 1024;
var MAX_UNACKED = 1e4;
var MAX_UNACKED_BYTES = 1 << 20;
var STRIKE_BYTES = 64 * 1024;
var MAX_HELD = 1024;
var RETRY_MS = [1e3, 3e3, 1e4, 3e4];
var NEW_LINK_MS = 500;
var Mesh = class {
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
    this.pairs = /* @__PURE__ */ new Map();
  }
  /** The room's topology, from the welcome. */
  configure(env) {
    this.active = env.topology === "mesh";
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
      if (selfId > id) this.startLink(pair);
    }
  }
  isDirect(peerId) {
    const pair = this.pairs.get(peerId);
    return !!pair && pair.out === "direct";
  }
  /**
   * Send a msg/emit envelope: direct to the peers it can, the rest through the relay.
   * @returns {string|null} what to relay (with `x` listing peers reached directly), or null
   */
  route(raw, to) {
    if (!this.active || !this.pairs.size || byteLength(raw) > MAX_DIRECT_BYTES) return raw;
    const targets = to != null ? [to] : this.host.members().filter((id) => id !== this.host.selfId);
    for (const id of targets) {
      const pair = this.pairs.get(id);
      if (pair && pair.out === "direct" && !pair.canSend) pair.link?.close("channel closed");
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
      pair.link.close("too far behind");
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
    if (!raws.length || !pair.canSend) return;
    let first = pair.outSeq - raws.length + 1;
    let start = 0;
    while (start < raws.length) {
      if (pair.link.bufferedAmount > HIGH_WATER) {
        pair.outbox = raws.slice(start);
        return;
      }
      let end = start;
      let size = 0;
      while (end < raws.length && (end === start || size + raws[end].length <= MAX_DIRECT_BYTES)) size += raws[end++].length + 1;
      pair.link.send(`{"t":"d","s":${first},"b":[${raws.slice(start, end).join(",")}]}`);
      first += end - start;
      start = end;
    }
  }
  // ------------------------------------------------------------ links
  startLink(pair, linkId = randomToken(9), polite = false) {
    pair.link?.close("replaced");
    const link = (this.host.createLink || ((init) => new PeerLink(init)))({
      peerId: pair.id,
      linkId,
      polite,
      config: this.host.config(),
      signal: (d) => this.host.signal(pair.id, d),
      onFrame: (frame) => this.onFrame(pair, link, frame),
      onVolatile: (frame) => {
        const env = pair.link === link ? volatileEnvelope(frame) : null;
        if (env) this.host.deliver(pair.id, env);
      },
      onOpen: () => this.opened(pair, link),
      onDrain: () => {
        if (pair.link === link) this.flushDirect(pair);
      },
      onClosed: (reason) => this.closed(pair, link, reason),
      log: this.host.log
    });
    pair.link = link;
  }
  opened(pair, link) {
    if (pair.link !== link) return;
    pair.retries = 0;
    this.host.signal(pair.id, { k: "switch", link: link.linkId, v: 1 });
    pair.out = "direct";
    this.host.changed();
  }
  closed(pair, link, reason) {
    if (pair.link !== link) return;
    pair.link = null;
    this.host.log("direct link to", pair.id, "closed:", reason);
    this.fallBack(pair, link.linkId);
    if (this.pairs.get(pair.id) === pair && this.host.selfId > pair.id && reason !== "replaced") {
      const delay = Math.max(RETRY_MS[Math.min(pair.retries++, RETRY_MS.length - 1)], pair.quietUntil - Date.now());
      clearTimeout(pair.retryTimer);
      pair.retryTimer = setTimeout(() => {
        if (this.pairs.get(pair.id) === pair && !pair.link) this.startLink(pair);
      }, delay);
    }
  }
  fallBack(pair, linkId) {
    pair.inDirect = pair.volatile = false;
    pair.held = [];
    if (pair.out !== "direct") return;
    pair.out = "relay";
    this.host.signal(pair.id, { k: "fallback", link: linkId });
    for (const [s, raw] of pair.unacked) this.host.signal(pair.id, { k: "resend", s, e: JSON.parse(raw) });
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
    pair.link?.close("left the mesh");
  }
  close() {
    for (const id of [...this.pairs.keys()]) this.drop(id);
    this.active = false;
  }
  // ------------------------------------------------------------ receiving
  /** A `sig` envelope relayed by the server. */
  onSignal(from, d) {
    const pair = this.pairs.get(from);
    if (!pair || !d || typeof d !== "object") return;
    switch (d.k) {
      case "neg":
        if (d.link !== pair.link?.linkId) {
          if (this.host.selfId > from || typeof d.link !== "string") return;
          const now = Date.now();
          if (now - pair.linkAt < NEW_LINK_MS || now < pair.quietUntil) return;
          pair.linkAt = now;
          this.startLink(pair, d.link, true);
        }
        pair.link.receive(d);
        break;
      case "switch":
        if (d.link !== pair.link?.linkId) return;
        pair.inDirect = true;
        pair.volatile = d.v === 1;
        for (const [s, env] of pair.held.splice(0)) this.accept(pair, s, env);
        break;
      case "fallback":
        pair.inDirect = false;
        pair.held = [];
        if (pair.link && pair.link.linkId === d.link) pair.link.close("the peer fell back");
        break;
      case "resend":
        if (Number.isInteger(d.s) && d.s > pair.inSeq) this.accept(pair, d.s, d.e, false);
        break;
      default:
        break;
    }
  }
  onFrame(pair, link, frame) {
    if (pair.link !== link) return;
    let value;
    try {
      value = JSON.parse(frame);
    } catch {
      return;
    }
    if (value?.t === "a" && Number.isInteger(value.s)) {
      pair.unacked = pair.unacked.filter(([s]) => s > value.s);
      pair.unackedBytes = pair.unacked.reduce((n, [, raw]) => n + raw.length, 0);
    } else if (value?.t === "d" && Number.isInteger(value.s) && Array.isArray(value.b)) {
      for (const [i, env] of value.b.entries()) {
        const s = value.s + i;
        if (s <= pair.inSeq) continue;
        if (pair.inDirect) this.accept(pair, s, env);
        else if (pair.held.length < MAX_HELD) pair.held.push([s, env]);
        else {
          pair.held = [];
          link.close("too many direct frames before the switch");
          return;
        }
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
    try {
      if (pair.link?.isOpen) pair.link.send(`{"t":"a","s":${pair.inSeq}}`);
    } catch {
    }
  }
};
var Pair = class {
  constructor(id) {
    this.id = id;
    this.link = null;
    this.out = "relay";
    this.outSeq = 0;
    this.unacked = [];
    this.unackedBytes = 0;
    this.outbox = [];
    this.inDirect = false;
    this.inSeq = 0;
    this.held = [];
    this.unackedIn = 0;
    this.ackTimer = null;
    this.retryTimer = null;
    this.retries = 0;
    this.linkAt = -Infinity;
    this.strikes = 0;
    this.quietUntil = -Infinity;
    this.volatile = false;
  }
  get canSend() {
    return this.out === "direct" && !!this.link?.isOpen;
  }
};
function validDirect(env) {
  if (env?.t === "msg") return typeof env.d === "string";
  return env?.t === "emit" && typeof env.e === "string" && env.e.length > 0 && env.e.length <= 128;
}

// src/inbound.js
function createMesh(conn) {
  return new Mesh({
    selfId: conn.peerId,
    members: () => [...conn._room.peers.keys()],
    signal: (to, d) => {
      try {
        conn._outbox.put(JSON.stringify({ t: "sig", to, d }));
      } catch (e) {
        conn._log("signal not sent", e);
      }
    },
    deliver: (from, env) => onEnvelope(conn, { ...env, from }),
    config: () => ({
      iceServers: conn._transport?.iceServers || conn.options.iceServers || [],
      iceTransportPolicy: conn.options.meshIceTransportPolicy || "all"
    }),
    changed: () => conn._roomUpdate(),
    log: (...args) => conn._log(...args)
  });
}
function receiveFrame(conn, frame) {
  if (typeof frame !== "string") {
    try {
      receiveBinary(conn, frame);
    } catch (error) {
      conn._log("bad binary frame from server", error);
    }
    return;
  }
  let envelopes;
  try {
    envelopes = decodeFrame(frame);
  } catch (error) {
    conn._log("bad frame from server", error);
    return;
  }
  for (const env of envelopes) {
    try {
      onEnvelope(conn, env);
    } catch (error) {
      conn._log("malformed envelope from server", env, error);
    }
  }
}
function receiveBinary(conn, frame) {
  const { header, payload } = parseFrame(frame);
  const from = typeof header.from === "string" ? header.from : "";
  if (header.t !== "part" && header.m === void 0) {
    onEnvelope(conn, { t: header.t, e: header.e, from, d: decodeBody(header, payload) });
    return;
  }
  const { first, got, body } = conn._incoming.add(from, header, payload);
  conn.lifecycle.emit("incoming", from, first.t === "msg" ? void 0 : first.e, got, first.z);
  if (body) onEnvelope(conn, { t: first.t, e: first.e, from, d: decodeBody(first, body) });
}
function onEnvelope(conn, env) {
  const room = conn._room;
  switch (env.t) {
    case "msg":
      conn._fire("onMessage", "message", env.from, env.d, void 0);
      conn._events.emit("message", env.from, env.d);
      break;
    case "emit":
    case "bcast":
      conn._fire("onMessage", "message", env.from, env.d, env.e);
      conn._events.emit(env.e, env.from, env.d);
      break;
    case "welcome":
      conn._mayReconnect = true;
      conn._maxBody = Number.isSafeInteger(env.maxBodyBytes) ? env.maxBodyBytes : 0;
      room.welcome(env);
      conn._mesh.configure(env);
      if (conn._welcome) {
        conn._welcome.resolve();
        conn._welcome = null;
      }
      conn._roomUpdate();
      break;
    case "joined":
      conn._fire("onPeerJoined", "peer-joined", room.joined(env));
      conn._mesh.update();
      conn._roomUpdate();
      break;
    case "left":
      conn._incoming.dropSender(env.peer?.id);
      conn._fire("onPeerLeft", "peer-left", room.left(env));
      conn._mesh.update();
      conn._roomUpdate();
      break;
    case "host":
      room.host(env);
      conn._roomUpdate();
      break;
    case "sig":
      conn._mesh.onSignal(env.from, env.d);
      break;
    case "error":
      conn._fire(
        "onError",
        "error",
        new PeerPyRTCError(ErrorCodes.ERR_SERVER, env.message || "server error", { serverCode: env.code })
      );
      break;
    case "close":
      conn._log("server is closing the connection:", env.reason);
      conn.closeReason = env.reason;
      conn._mayReconnect = !!env.reconnect;
      conn._lost(conn._generation, env.reason || "closed by the server");
      break;
    case "abort":
      conn._incoming.dropMessage(env.from, env.m);
      break;
    case "ping":
      try {
        conn._transport.send(JSON.stringify({ t: "pong", d: env.d ?? null }));
      } catch {
      }
      break;
    default:
      break;
  }
}

// src/outbox.js
var BULK_HIGH_WATER = 64 << 10;
var BULK_LOW_WATER = 32 << 10;
var Outbox = class {
  /** @param {number} maxQueued envelopes kept while there is no open transport */
  constructor(maxQueued) {
    this.maxQueued = maxQueued;
    this.items = [];
    this.bulk = [];
    this.transport = null;
    this._scheduled = false;
  }
  /** Queue one encoded envelope or binary frame; throws ERR_TOO_LARGE or (while not connected) ERR_QUEUE_FULL. */
  put(raw) {
    if (typeof raw === "string" && byteLength(raw) > MAX_ENVELOPE_BYTES) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `message is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    }
    if (!this.transport && this.items.length >= this.maxQueued) {
      throw new PeerPyRTCError(
        ErrorCodes.ERR_QUEUE_FULL,
        `not connected and ${this.maxQueued} messages already wait to be sent`
      );
    }
    this.items.push(raw);
    this._schedule();
  }
  /** Queue one frame of a large message; `sent(ok)` says whether it left. */
  putBulk(frame, sent) {
    this.bulk.push([frame, sent]);
    this._schedule();
  }
  _schedule() {
    if (this._scheduled || !this.transport) return;
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      this.flush();
    });
  }
  /** Hand what is queued to the transport (``force``: even above the high-water mark). */
  flush(force = false) {
    const transport = this.transport;
    if (!transport || !transport.isOpen) return;
    if (this.items.length && (force || transport.bufferedAmount <= HIGH_WATER)) {
      const items = this.items;
      this.items = [];
      let text = [];
      for (const item of items) {
        if (typeof item === "string") {
          text.push(item);
          continue;
        }
        for (const frame of frames(text)) transport.send(frame);
        text = [];
        transport.send(item);
      }
      for (const frame of frames(text)) transport.send(frame);
    }
    while (this.bulk.length && transport.bufferedAmount <= BULK_HIGH_WATER) {
      const [frame, sent] = this.bulk.shift();
      try {
        transport.send(frame);
      } catch {
        sent(false);
        this.failBulk();
        return;
      }
      sent(true);
    }
    transport.setLowWater?.(this.bulk.length && !this.items.length ? BULK_LOW_WATER : LOW_WATER);
  }
  /** The connection went away: the large messages under way fail (the server dropped them). */
  failBulk() {
    const bulk = this.bulk;
    this.bulk = [];
    for (const [, sent] of bulk) sent(false);
  }
  clear() {
    this.items = [];
    this.failBulk();
  }
};

// src/room-state.js
var RoomState = class {
  /** @param {string} selfId this peer's id */
  constructor(selfId) {
    this.selfId = selfId;
    this.peers = /* @__PURE__ */ new Map();
    this.hostId = null;
    this.topology = null;
  }
  /** `welcome`: the whole room, first on every connection. */
  welcome(env) {
    this.peers = new Map((env.peers || []).map((p) => [p.id, p]));
    this.hostId = env.host ?? null;
    this.topology = env.topology || "relay";
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
    if ("host" in env) this.hostId = env.host;
    return { ...peer, isHost: !!env.peer.isHost, reason: env.reason };
  }
  /** `host`: the host changed. */
  host(env) {
    this.hostId = env.host ?? null;
  }
  /** Every peer, in join order, with `isHost` and `isSelf`. */
  list() {
    return [...this.peers.values()].map((p) => ({ ...p, isHost: p.id === this.hostId, isSelf: p.id === this.selfId }));
  }
  get size() {
    return this.peers.size;
  }
  clear() {
    this.peers.clear();
  }
};

// src/sending.js
var MAX_VOLATILE_BYTES2 = 16 * 1024;
var nextId = Math.floor(Math.random() * 2 ** 32);
function textOf(kind, event, data, to) {
  if (kind === "msg") return encodeMessage(typeof data === "string" ? data : JSON.stringify(data));
  return kind === "bcast" ? encodeBroadcast(event, data) : encodeEmit(event, data, to);
}
function report(onProgress, sent, total) {
  if (typeof onProgress !== "function") return;
  try {
    onProgress(sent, total);
  } catch (error) {
    console.error("[peerpyrtc] onProgress threw", error);
  }
}
function sendAs(conn, kind, event, data, options = {}) {
  const { to, onProgress, volatile = false, direct = true } = options || {};
  if (conn._closedByUser) throw new PeerPyRTCError(ErrorCodes.ERR_CLOSED, "cannot send: closeConnection() was called");
  const binary = kind === "msg" ? typeof data !== "string" && hasBinary(data) : hasBinary(data);
  if (!binary) {
    const raw = textOf(kind, event, data, to);
    const size = byteLength(raw);
    if (volatile) {
      if (size > MAX_VOLATILE_BYTES2) {
        throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `a volatile message is at most ${MAX_VOLATILE_BYTES2} bytes`);
      }
      sendVolatile(conn, raw, to);
      return Promise.resolve();
    }
    if (size <= MAX_ENVELOPE_BYTES || !conn._maxBody) {
      conn._send(raw, to, direct);
      report(onProgress, size, size);
      return Promise.resolve();
    }
  }
  if (!conn._maxBody) {
    throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, "binary data needs a server that takes binary frames");
  }
  return sendFrames(conn, kind, event, data, to, onProgress, volatile);
}
async function sendFrames(conn, kind, event, data, to, onProgress, volatile) {
  const routing = { t: kind };
  if (kind !== "msg") routing.e = event;
  if (to !== void 0 && to !== null) routing.to = to;
  if (kind !== "msg") encodeEmit(event, null);
  nextId = (nextId + 1) % 2 ** 52;
  const resolved = await readBlobs(data);
  const { frames: frames2, sizes, total } = encodeFrames(routing, resolved, nextId, volatile ? MAX_VOLATILE_BYTES2 : conn._maxBody);
  if (volatile) {
    if (frames2.length > 1) throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `a volatile message is at most ${MAX_VOLATILE_BYTES2} bytes`);
    sendVolatile(conn, frames2[0], to);
    return;
  }
  if (frames2.length === 1) {
    conn._outbox.put(frames2[0]);
    report(onProgress, total, total);
    return;
  }
  if (!conn._outbox.transport) {
    throw new PeerPyRTCError(ErrorCodes.ERR_NOT_CONNECTED, "a large message needs an open connection");
  }
  await new Promise((resolve, reject) => {
    let sent = 0;
    let failed = false;
    frames2.forEach((frame, i) => conn._outbox.putBulk(frame, (ok) => {
      if (failed) return;
      if (!ok) {
        failed = true;
        reject(new PeerPyRTCError(ErrorCodes.ERR_NOT_CONNECTED, "the connection went away before the message left"));
        return;
      }
      sent += sizes[i];
      report(onProgress, sent, total);
      if (i === frames2.length - 1) resolve();
    }));
  });
}
function sendVolatile(conn, frame, to) {
  const relayed = routeVolatile(conn._mesh, frame, to);
  if (relayed !== null) conn._transport?.sendVolatile?.(relayed);
}

// src/connection.js
var PING = '{"t":"ping"}';
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
    this.onOpen = this.onClose = this.onError = this.onMessage = null;
    this.onPeerJoined = this.onPeerLeft = this.onRoomUpdate = this.onStatusChange = null;
    this._events = new Emitter();
    this.lifecycle = new Emitter();
    this._room = new RoomState(this.peerId);
    this._mesh = createMesh(this);
    this._status = "disconnected";
    this._transport = null;
    this._stale = null;
    this._outbox = new Outbox(this.options.maxQueuedMessages);
    this._incoming = new Reassembly();
    this._maxBody = 0;
    this._heartbeat = new Heartbeat(
      () => {
        try {
          this._transport?.send(PING);
        } catch {
        }
      },
      (reason) => this._lost(this._generation, reason)
    );
    this._closedByUser = false;
    this._connectPromise = null;
    this._generation = 0;
    this._mayReconnect = true;
    this.closeReason = null;
    this._onPageHide = () => {
      if (this._status === "connected") this._transport.goodbyeOnUnload();
    };
    globalThis.addEventListener?.("pagehide", this._onPageHide);
  }
  // ------------------------------------------------------------ state
  get hostId() {
    return this._room.hostId;
  }
  isConnected() {
    return this._status === "connected";
  }
  getConnectionStatus() {
    return this._status;
  }
  /** The room's peers in join order; `isDirect`: messages to it travel on a direct link (mesh). */
  getRoomPeers() {
    return this._room.list().map((p) => ({ ...p, isDirect: this._mesh.isDirect(p.id) }));
  }
  /** 'relay' or 'mesh', as the server decided for this room (null before the welcome). */
  get topology() {
    return this._room.topology;
  }
  getPeerCount() {
    return this._room.size;
  }
  /** Diagnostics: the current transport (its `pc`), and the mesh's direct links. */
  get transport() {
    return this._transport;
  }
  get mesh() {
    return this._mesh;
  }
  isRoomHost() {
    return this._room.hostId === this.peerId;
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
      this._connectPromise = this._openRetrying429().then(
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
    this._rejectWelcome(ErrorCodes.ERR_CLOSED, "closeConnection() was called while connecting");
    globalThis.removeEventListener?.("pagehide", this._onPageHide);
    const wasConnected = this._status === "connected";
    const transport = this._transport;
    if (transport) {
      this._outbox.flush(true);
      this._outbox.clear();
      if (!await transport.sayGoodbye()) {
        await transport.leave().catch((e) => this._log("leave failed", e));
      }
    }
    this._teardown();
    this._room.clear();
    this._setStatus("closed");
    if (wasConnected) this._fire("onClose", "close", "closed");
  }
  // ----------------------------------------------------------- sending
  // Binary data (ArrayBuffer, typed arrays, DataView, Blob) may sit anywhere; large messages are split.
  sendMessage(message, options) {
    return sendAs(this, "msg", void 0, message, options);
  }
  emit(event, data, options) {
    return sendAs(this, "emit", event, data, options);
  }
  broadcast(event, data, options) {
    return sendAs(this, "bcast", event, data, { ...options, to: void 0, direct: false });
  }
  /** `rtc.volatile.emit(event, data)`: the unordered channel, dropped rather than late (small only). */
  get volatile() {
    return { emit: (event, data, options) => sendAs(this, "emit", event, data, { ...options, volatile: true }) };
  }
  _send(raw, to, direct = true) {
    const relayed = direct ? this._mesh.route(raw, to) : raw;
    if (relayed !== null) this._outbox.put(relayed);
  }
  // ------------------------------------------------------- connecting
  // A 429 rate limit (the server is setting up too many connections, or too many from this
  // address) means "try again shortly": retried with jittered backoff within connectTimeout.
  // A full room is final (ERR_ROOM_FULL at once).
  _openRetrying429() {
    return retry(
      () => this._open(),
      (e) => e?.status === 429 && !isFinalRefusal(e) && !this._closedByUser,
      this.options.connectTimeout
    );
  }
  async _open() {
    const generation = ++this._generation;
    this._retire();
    const transport = this.options.createTransport({
      room: this.roomName,
      peerId: this.peerId,
      session: this.session,
      options: this.options,
      onFrame: (frame) => {
        if (generation === this._generation) this._onFrame(frame);
      },
      onLost: (reason) => this._lost(generation, reason),
      onDrain: () => this._outbox.flush(),
      log: (...args) => this._log(...args)
    });
    this._transport = transport;
    const welcomed = new Promise((resolve, reject) => {
      this._welcome = { resolve, reject };
    });
    const info = this.options.sendUserAgent ? { userAgent: globalThis.navigator?.userAgent, ...this.options.peerInfo } : { ...this.options.peerInfo };
    let timer;
    try {
      this.session = await transport.open(info);
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new PeerPyRTCError(
            ErrorCodes.ERR_TIMEOUT,
            `the channel to room "${this.roomName}" did not open within ${this.options.connectTimeout} ms`
          )),
          this.options.connectTimeout
        );
      });
      await Promise.race([welcomed, timeout]);
    } catch (error) {
      this._welcome = null;
      if (generation === this._generation) this._retire(true);
      throw transport.explain ? transport.explain(error) : error;
    } finally {
      clearTimeout(timer);
    }
  }
  _opened() {
    this._dropStale();
    this._setStatus("connected");
    this._heartbeat.start();
    this._outbox.transport = this._transport;
    this._outbox.flush();
    this._fire("onOpen", "open");
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
    if (this._status !== "connected") return;
    this._log("connection lost:", reason);
    this._generation += 1;
    if (!this._mayReconnect) {
      this._teardown();
      this._room.clear();
      this._setStatus("closed");
      this._fire("onClose", "close", this.closeReason || reason);
      return;
    }
    this._retire();
    this._reconnectUntil = Date.now() + this.options.reconnectTimeout;
    this._reconnect(1, this.closeReason || reason);
  }
  _reconnect(attempt, reason) {
    const delay = reconnectDelay(attempt, this.options.reconnectDelay);
    if (attempt > this.options.maxReconnectAttempts || Date.now() + delay > this._reconnectUntil) {
      this._giveUp(new PeerPyRTCError(
        ErrorCodes.ERR_RECONNECT_FAILED,
        `lost room "${this.roomName}" (${reason}) and ${attempt - 1} reconnection attempts failed`
      ), reason);
      return;
    }
    this._setStatus("reconnecting");
    this._log(`reconnecting in ${delay} ms (attempt ${attempt})`);
    this._reconnectTimer = setTimeout(() => {
      if (this._closedByUser) return;
      this._open().then(() => this._opened(), (error) => {
        if (this._closedByUser) return;
        this._log("reconnection attempt failed", error);
        if (isFinalRefusal(error)) {
          this._giveUp(error);
          return;
        }
        this._reconnect(attempt + 1, error.message);
      });
    }, delay);
  }
  _giveUp(error, reason = error.message) {
    this._teardown();
    this._room.clear();
    this._setStatus("failed");
    this._fire("onError", "error", error);
    this._fire("onClose", "close", reason);
  }
  // Detach the current transport; keep it open (as stale) until a new one is welcomed.
  _retire(close = false) {
    this._heartbeat.stop();
    const transport = this._transport;
    this._transport = this._outbox.transport = null;
    this._outbox.failBulk();
    if (!transport) return;
    if (close) {
      transport.close();
    } else {
      transport.detach();
      this._dropStale();
      this._stale = transport;
    }
  }
  _dropStale() {
    const stale = this._stale;
    this._stale = null;
    stale?.close();
  }
  _teardown() {
    this._retire(true);
    this._dropStale();
    this._mesh.close();
  }
  // --------------------------------------------------------- receiving
  _onFrame(frame) {
    this._heartbeat.heard();
    receiveFrame(this, frame);
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

return module.exports;
});
