// Volatile messages in a mesh room: sent on each direct link's volatile channel (once the
// peer's `switch` said it has one), unnumbered and dropped while behind; the rest go through
// the relay with `x` naming the peers reached directly. Received: checked as the server checks
// a client's volatile frame (one `emit`, text or one binary frame, at most 16 KiB).

import { pack, parseFrame, decodeBody } from './binary.js';
import { byteLength } from './protocol.js';

const MAX_VOLATILE_BYTES = 16 * 1024;
const decoder = new TextDecoder();

/** @returns {string|Uint8Array|null} what to relay (with `x`), or null: nothing */
export function routeVolatile(mesh, frame, to) {
  if (!mesh.active || !mesh.pairs.size) return frame;
  const { selfId } = mesh.host;
  const targets = to != null ? [to] : mesh.host.members().filter((id) => id !== selfId);
  const direct = [];
  for (const id of targets) {
    const pair = mesh.pairs.get(id);
    if (!pair || !pair.volatile || !pair.canSend || !pair.link.volatileOpen) continue;
    pair.link.sendVolatile(frame); // dropped while behind: late is worthless
    direct.push(id);
  }
  if (!direct.length) return frame;
  if (to != null || direct.length === targets.length) return null;
  return withSkip(frame, direct);
}

/** The frame again with `x` (the peers reached directly) in its envelope or header. */
export function withSkip(frame, peers) {
  const skip = `,"x":${JSON.stringify(peers)}}`;
  if (typeof frame === 'string') return frame.trimEnd().slice(0, -1) + skip;
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const header = decoder.decode(bytes.subarray(4, 4 + length)).trimEnd();
  return pack(header.slice(0, -1) + skip, bytes.subarray(4 + length));
}

/** A volatile frame another peer sent directly, as `{t:'emit', e, d}`; null if not valid. */
export function volatileEnvelope(frame) {
  try {
    if (typeof frame === 'string') {
      if (byteLength(frame) > MAX_VOLATILE_BYTES) return null;
      const env = JSON.parse(frame);
      return validEmit(env) ? { t: 'emit', e: env.e, d: env.d } : null;
    }
    if (frame.byteLength > MAX_VOLATILE_BYTES) return null;
    const { header, payload } = parseFrame(frame);
    if (!validEmit(header) || header.m !== undefined || 'from' in header || 'n' in header) return null;
    return { t: 'emit', e: header.e, d: decodeBody(header, payload) };
  } catch {
    return null;
  }
}

function validEmit(env) {
  return env !== null && typeof env === 'object' && env.t === 'emit'
    && typeof env.e === 'string' && env.e.length > 0 && env.e.length <= 128;
}

