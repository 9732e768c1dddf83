// Outbox: what the page sends, queued until the transport takes it. Everything queued in one
// turn of the event loop leaves as one batch frame; above the high-water mark it waits for drain.

import { ErrorCodes, PeerPyRTCError } from './errors.js';
import { MAX_ENVELOPE_BYTES, byteLength, frames } from './protocol.js';
import { HIGH_WATER } from './transport.js';

export class Outbox {
  /** @param {number} maxQueued envelopes kept while there is no open transport */
  constructor(maxQueued) {
    this.maxQueued = maxQueued;
    this.items = [];
    this.transport = null; // set while connected: then queued items leave at the end of the turn
    this._scheduled = false;
  }

  /** Queue one encoded envelope; throws ERR_TOO_LARGE or (while not connected) ERR_QUEUE_FULL. */
  put(raw) {
    if (byteLength(raw) > MAX_ENVELOPE_BYTES) {
      throw new PeerPyRTCError(ErrorCodes.ERR_TOO_LARGE, `message is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    }
    if (!this.transport && this.items.length >= this.maxQueued) {
      throw new PeerPyRTCError(ErrorCodes.ERR_QUEUE_FULL,
        `not connected and ${this.maxQueued} messages already wait to be sent`);
    }
    this.items.push(raw);
    if (this._scheduled || !this.transport) return;
    this._scheduled = true;
    queueMicrotask(() => { this._scheduled = false; this.flush(); });
  }

  /** Hand what is queued to the transport (``force``: even above the high-water mark). */
  flush(force = false) {
    const transport = this.transport;
    if (!transport || !transport.isOpen || !this.items.length) return;
    if (!force && transport.bufferedAmount > HIGH_WATER) return; // resumes on drain
    const raws = this.items;
    this.items = [];
    for (const frame of frames(raws)) transport.send(frame);
  }

  clear() { this.items = []; }
}
