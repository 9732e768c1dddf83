// Wire protocol v1 (docs/protocol.md): envelopes and batch frames, no I/O.

import { ErrorCodes, PeerPyRTCError } from './errors.js';

export const PROTOCOL_VERSION = 1;
export const CHANNEL_LABEL = 'peerpyrtc';
export const CHANNEL_PROTOCOL = 'peerpyrtc.v1';
export const VOLATILE_LABEL = 'peerpyrtc.volatile';
export const SERVER_ID = 'server';
export const MAX_FRAME_BYTES = 65536;
export const MAX_ENVELOPE_BYTES = 65000;

const encoder = new TextEncoder();

/** UTF-8 length of a string. */
export function byteLength(text) {
  // fast path: all ASCII
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}

export function encodeMessage(message) {
  return JSON.stringify({ t: 'msg', d: message });
}

function checkEvent(event) {
  if (typeof event !== 'string' || !event || event.length > 128) {
    throw new PeerPyRTCError(ErrorCodes.ERR_INVALID_ARGUMENT, 'event must be a string of 1 to 128 characters');
  }
}

export function encodeEmit(event, data, to) {
  checkEvent(event);
  const env = { t: 'emit', e: event, d: data === undefined ? null : data };
  if (to !== undefined && to !== null) env.to = to;
  return JSON.stringify(env);
}

export function encodeBroadcast(event, data) {
  checkEvent(event);
  return JSON.stringify({ t: 'bcast', e: event, d: data === undefined ? null : data });
}

export const BYE = JSON.stringify({ t: 'bye' });

/** Join encoded envelopes into one frame; a batch of one is the envelope itself. */
export function batch(raws) {
  return raws.length === 1 ? raws[0] : `[${raws.join(',')}]`;
}

/**
 * Split queued envelopes into frames no larger than MAX_FRAME_BYTES.
 * @param {string[]} raws
 * @returns {string[]}
 */
export function frames(raws) {
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

/**
 * Decode a frame from the server into envelopes (objects), in order.
 * Throws a SyntaxError for a frame that is not JSON.
 */
export function decodeFrame(frame) {
  const value = JSON.parse(frame);
  const list = Array.isArray(value) ? value : [value];
  return list.filter((env) => env !== null && typeof env === 'object' && typeof env.t === 'string');
}
