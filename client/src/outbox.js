// Outbox: what the page sends, queued until the transport takes it. Everything queued in one
// turn of the event loop leaves as one batch frame; above the high-water mark it waits for drain.
// Binary frames leave on their own. Frames of large messages wait in a second (bulk) lane, handed
// over only below BULK_HIGH_WATER and after everything else: a transfer never holds up a chat line.

import { ErrorCodes, PeerPyRTCError } from './errors.js';
import { MAX_ENVELOPE_BYTES, byteLength, frames } from './protocol.js';
import { HIGH_WATER, LOW_WATER } from './transport.js';

/** Bulk frames are handed to the channel only below this many buffered bytes, and resume below
 * BULK_LOW_WATER: a chat line queued behind them waits for what the channel holds, so it holds
 * little (a few frames keep SCTP busy; measured: benchmarks/basics.py --browser). */
export const BULK_HIGH_WATER = 64 << 10;
export const BULK_LOW_WATER = 32 << 10;

export class Outbox {
  /** @param {number} maxQueued envelopes kept while there is no open transport */
  constructor(maxQueued) {
    this.maxQueued = maxQueued;
    this.items = [];
    this.bulk = []; // [frame, sent(ok)] pairs
    this.transport = null; // set while connected: then queued items leave at the end of the turn
    this._scheduled = false;
  }

  /** Queue one encoded envelope or binary frame; throws ERR_TOO_LARGE or (while not connected) ERR_QUEUE_FULL. */
  put(raw) {
    if (typeof raw === 'string' && byteLength(raw) > MAX_ENVELOPE_BYTES) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `message is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    }
    if (!this.transport && this.items.length >= this.maxQueued) {
      throw new PeerPyRTCError(ErrorCodes.ERR_QUEUE_FULL,
        `not connected and ${this.maxQueued} messages already wait to be sent`);
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
    queueMicrotask(() => { this._scheduled = false; this.flush(); });
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
        if (typeof item === 'string') { text.push(item); continue; }
        for (const frame of frames(text)) transport.send(frame);
        text = [];
        transport.send(item);
      }
      for (const frame of frames(text)) transport.send(frame);
    }
    while (this.bulk.length && transport.bufferedAmount <= BULK_HIGH_WATER) {
      const [frame, sent] = this.bulk.shift();
      try { transport.send(frame); } catch { sent(false); this.failBulk(); return; }
      sent(true);
    }
    // only the bulk lane waits: wake it lower down; else at the usual mark
    transport.setLowWater?.(this.bulk.length && !this.items.length ? BULK_LOW_WATER : LOW_WATER);
  }

  /** The connection went away: the large messages under way fail (the server dropped them). */
  failBulk() {
    const bulk = this.bulk;
    this.bulk = [];
    for (const [, sent] of bulk) sent(false);
  }

  clear() { this.items = []; this.failBulk(); }
}
