// Wire protocol v1, binary frames (docs/protocol.md): binary payloads and messages larger than one
// frame. A frame is `u32 big-endian header length | header JSON | payload`; a message's body is the
// JSON of its data (with socket.io placeholders for binary values) followed by the raw attachments.

import { ErrorCodes, PeerPyRTCError } from './errors.js';

/** Largest frame we write (every browser's SCTP takes it; PeerJS and Trystero use 16 KiB). */
export const CHUNK_FRAME_BYTES = 16 * 1024;
/** Room left in a frame for the server's stamp (`from`, `n`). */
const STAMP_ROOM = 320;
const MAX_DEPTH = 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const isBlob = (v) => typeof Blob !== 'undefined' && v instanceof Blob;
const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v) || isBlob(v);

/** True when `value` holds an ArrayBuffer, a typed array, a DataView or a Blob anywhere. */
export function hasBinary(value, depth = 0) {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return false;
  if (isBinary(value)) return true;
  if (Array.isArray(value)) return value.some((v) => hasBinary(v, depth + 1));
  return Object.values(value).some((v) => hasBinary(v, depth + 1));
}

/** `value` with each Blob read into an ArrayBuffer (the only asynchronous part of sending). */
export async function readBlobs(value, depth = 0) {
  if (isBlob(value)) return value.arrayBuffer();
  if (value === null || typeof value !== 'object' || isBinary(value) || depth > MAX_DEPTH) return value;
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
  if (value !== null && typeof value === 'object') {
    if (isBinary(value)) {
      attachments.push(bytesOf(value));
      return { _placeholder: true, num: attachments.length - 1 };
    }
    if (depth > MAX_DEPTH) throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, 'data nested too deep');
    if (typeof value.toJSON === 'function') return value;
    if (Array.isArray(value)) return value.map((v) => extract(v, attachments, depth + 1));
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = extract(v, attachments, depth + 1);
    return out;
  }
  return value;
}

function restore(value, attachments) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => restore(v, attachments));
  const keys = Object.keys(value);
  if (value._placeholder === true && keys.length === 2 && Number.isInteger(value.num)) {
    if (value.num < 0 || value.num >= attachments.length) throw new Error('a placeholder names no attachment');
    return attachments[value.num];
  }
  const out = {};
  for (const k of keys) out[k] = restore(value[k], attachments);
  return out;
}

/** One frame from a header string and a payload (Uint8Array). */
export function pack(header, payload = new Uint8Array(0)) {
  const head = encoder.encode(header);
  const frame = new Uint8Array(4 + head.length + payload.length);
  new DataView(frame.buffer).setUint32(0, head.length);
  frame.set(head, 4);
  frame.set(payload, 4 + head.length);
  return frame;
}

/**
 * A message as binary frames. `routing`: `{t, e?, to?, x?}`; `maxBytes`: the largest body the
 * server takes (larger is refused here, before anything is sent). Returns the frames and, for
 * each, how many body bytes it carries.
 */
export function encodeFrames(routing, data, messageId, maxBytes, frameBytes = CHUNK_FRAME_BYTES) {
  const attachments = [];
  const json = JSON.stringify(extract(data === undefined ? null : data, attachments));
  const text = encoder.encode(json === undefined ? 'null' : json);
  const total = text.length + attachments.reduce((n, a) => n + a.length, 0);
  if (total > maxBytes) {
    throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `the message is larger than ${maxBytes} bytes`);
  }
  const body = new Uint8Array(total);
  body.set(text, 0);
  let at = text.length;
  for (const a of attachments) { body.set(a, at); at += a.length; }
  const head = { ...routing, j: text.length };
  if (attachments.length) head.b = attachments.map((a) => a.length);
  const single = JSON.stringify(head);
  if (4 + encoder.encode(single).length + total + STAMP_ROOM <= frameBytes) {
    return { frames: [pack(single, body)], sizes: [total], total };
  }
  Object.assign(head, { m: messageId, z: total });
  const first = JSON.stringify(head);
  const frames = [];
  const sizes = [];
  let offset = 0;
  let header = first;
  while (offset < total) {
    const room = frameBytes - 4 - encoder.encode(header).length - STAMP_ROOM;
    const slice = body.subarray(offset, offset + room);
    frames.push(pack(header, slice));
    sizes.push(slice.length);
    offset += slice.length;
    header = JSON.stringify({ t: 'part', m: messageId, o: offset });
  }
  return { frames, sizes, total };
}

/** A server frame: `{header, payload}` (header parsed, payload a Uint8Array view). */
export function parseFrame(frame) {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length < 4) throw new Error('a binary frame is at least 4 bytes');
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (length < 2 || 4 + length > bytes.length) throw new Error("a binary frame's header length is out of range");
  const header = JSON.parse(decoder.decode(bytes.subarray(4, 4 + length)));
  if (header === null || typeof header !== 'object' || typeof header.t !== 'string') {
    throw new Error("a binary frame's header must be an object with 't'");
  }
  return { header, payload: bytes.subarray(4 + length) };
}

function count(v) { return Number.isSafeInteger(v) && v >= 0; }

/** The data of a whole body: placeholders replaced by ArrayBuffers (fresh copies). */
export function decodeBody(header, payload) {
  const j = header.j || 0;
  const lengths = Array.isArray(header.b) ? header.b : [];
  if (!count(j) || !lengths.every(count) || j + lengths.reduce((n, x) => n + x, 0) !== payload.length) {
    throw new Error("the payload's length must be 'j' plus the attachments");
  }
  const data = j ? JSON.parse(decoder.decode(payload.subarray(0, j))) : null;
  if (!lengths.length) return data;
  const attachments = [];
  let at = j;
  for (const length of lengths) { attachments.push(payload.slice(at, at + length).buffer); at += length; }
  return restore(data, attachments);
}

/** Large messages arriving, put back together by (sender, message id); bounded. */
export class Reassembly {
  constructor(maxMessages = 64, maxBytes = 128 * 1024 * 1024) {
    Object.assign(this, { maxMessages, maxBytes, held: 0 });
    this.partial = new Map();
  }

  get size() { return this.partial.size; }

  /** One frame of a large message: `{first, got, body}` (body once complete). Throws on a bad one. */
  add(sender, header, payload) {
    const key = `${sender}\n${header.m}`;
    if (!count(header.m)) throw new Error("a large message's frame needs 'm'");
    let entry = this.partial.get(key);
    if (header.t !== 'part') {
      if (entry) this.drop(key);
      if (!count(header.z)) throw new Error("a large message's first frame needs 'z'");
      if (this.partial.size >= this.maxMessages) throw new Error('too many large messages at once');
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
    for (const part of entry.parts) { body.set(part, at); at += part.length; }
    return { first: entry.first, got: entry.got, body };
  }

  drop(key) {
    const entry = this.partial.get(key);
    if (!entry) return;
    this.held -= entry.got;
    this.partial.delete(key);
  }

  dropMessage(sender, messageId) { this.drop(`${sender}\n${messageId}`); }

  dropSender(sender) {
    for (const key of [...this.partial.keys()]) if (key.startsWith(`${sender}\n`)) this.drop(key);
  }

  clear() { this.partial.clear(); this.held = 0; }
}
