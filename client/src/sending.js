// What a connection sends: a text envelope when it fits and holds no binary, else binary frames
// (binary.js). Large messages leave through the outbox's bulk lane, behind small messages, with
// progress; volatile ones go on the unordered channel in one frame, or are dropped.

import { encodeFrames, hasBinary, readBlobs } from './binary.js';
import { ErrorCodes, PeerPyRTCError } from './errors.js';
import { routeVolatile } from './mesh-volatile.js';
import { MAX_ENVELOPE_BYTES, byteLength, encodeBroadcast, encodeEmit, encodeMessage } from './protocol.js';

/** Largest volatile message: one DataChannel message, never split. */
export const MAX_VOLATILE_BYTES = 16 * 1024;

let nextId = Math.floor(Math.random() * 2 ** 32); // a reloaded page never meets its old ids

function textOf(kind, event, data, to) {
  if (kind === 'msg') return encodeMessage(typeof data === 'string' ? data : JSON.stringify(data));
  return kind === 'bcast' ? encodeBroadcast(event, data) : encodeEmit(event, data, to);
}

function report(onProgress, sent, total) {
  if (typeof onProgress !== 'function') return;
  try { onProgress(sent, total); } catch (error) { console.error('[peerpyrtc] onProgress threw', error); }
}

/**
 * Send one message from `conn`. Small text messages are queued at once (errors are thrown);
 * the promise resolves once the message has left (a large one: its last frame), and rejects with
 * ERR_TOO_LARGE (nothing sent) or ERR_NOT_CONNECTED (the connection went away first).
 */
export function sendAs(conn, kind, event, data, options = {}) {
  const { to, onProgress, volatile = false, direct = true } = options || {};
  if (conn._closedByUser) throw new PeerPyRTCError(ErrorCodes.ERR_CLOSED, 'cannot send: closeConnection() was called');
  const binary = kind === 'msg' ? typeof data !== 'string' && hasBinary(data) : hasBinary(data);
  if (!binary) {
    const raw = textOf(kind, event, data, to);
    const size = byteLength(raw);
    if (volatile) {
      if (size > MAX_VOLATILE_BYTES) {
        throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `a volatile message is at most ${MAX_VOLATILE_BYTES} bytes`);
      }
      sendVolatile(conn, raw, to);
      return Promise.resolve();
    }
    if (size <= MAX_ENVELOPE_BYTES || !conn._maxBody) {
      conn._send(raw, to, direct); // throws ERR_TOO_LARGE against a server without binary frames
      report(onProgress, size, size);
      return Promise.resolve();
    }
  }
  if (!conn._maxBody) {
    throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, 'binary data needs a server that takes binary frames');
  }
  return sendFrames(conn, kind, event, data, to, onProgress, volatile);
}

async function sendFrames(conn, kind, event, data, to, onProgress, volatile) {
  const routing = { t: kind };
  if (kind !== 'msg') routing.e = event;
  if (to !== undefined && to !== null) routing.to = to;
  if (kind !== 'msg') encodeEmit(event, null); // the same check of the event name
  nextId = (nextId + 1) % 2 ** 52;
  const resolved = await readBlobs(data);
  const { frames, sizes, total } = encodeFrames(routing, resolved, nextId, volatile ? MAX_VOLATILE_BYTES : conn._maxBody);
  if (volatile) {
    if (frames.length > 1) throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `a volatile message is at most ${MAX_VOLATILE_BYTES} bytes`);
    sendVolatile(conn, frames[0], to);
    return;
  }
  if (frames.length === 1) {
    conn._outbox.put(frames[0]);
    report(onProgress, total, total);
    return;
  }
  if (!conn._outbox.transport) {
    throw new PeerPyRTCError(ErrorCodes.ERR_NOT_CONNECTED, 'a large message needs an open connection');
  }
  await new Promise((resolve, reject) => {
    let sent = 0;
    let failed = false;
    frames.forEach((frame, i) => conn._outbox.putBulk(frame, (ok) => {
      if (failed) return;
      if (!ok) {
        failed = true;
        reject(new PeerPyRTCError(ErrorCodes.ERR_NOT_CONNECTED, 'the connection went away before the message left'));
        return;
      }
      sent += sizes[i];
      report(onProgress, sent, total);
      if (i === frames.length - 1) resolve();
    }));
  });
}

/** Direct where a link has the volatile channel, the rest through the relay (or dropped). */
function sendVolatile(conn, frame, to) {
  const relayed = routeVolatile(conn._mesh, frame, to);
  if (relayed !== null) conn._transport?.sendVolatile?.(relayed);
}
