// PeerLink: one direct connection to one other peer of a mesh room (one RTCPeerConnection, a
// negotiated, ordered, reliable channel, and a second one, unordered without retransmissions,
// for volatile messages). Negotiation follows the "perfect negotiation" pattern:
// either side may make an offer; when offers collide the polite side rolls back and answers, the
// impolite side ignores the other's offer. Signals travel through the server as `sig` envelopes;
// each carries the link's id so signals of an older link are ignored.

import { LOW_WATER, VOLATILE_HIGH_WATER } from './transport.js';

const CHANNEL_ID = 0;
export const VOLATILE_CHANNEL_ID = 1;

export class PeerLink {
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
    this.onVolatile = onVolatile || (() => {});
    this.onDrain = onDrain || (() => {});
    this.log = log || (() => {});
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    const channel = pc.createDataChannel('peerpyrtc-direct', { negotiated: true, id: CHANNEL_ID, ordered: true });
    this.channel = channel;
    channel.onopen = () => { if (!this.closed) this.onOpen(); };
    channel.onmessage = (e) => { if (!this.closed && typeof e.data === 'string') this.onFrame(e.data); };
    channel.onclose = () => this.close('channel closed');
    channel.bufferedAmountLowThreshold = LOW_WATER; // the same backpressure as the relay channel
    channel.onbufferedamountlow = () => { if (!this.closed) this.onDrain(); };
    const volatile = pc.createDataChannel('peerpyrtc-direct-volatile', { negotiated: true, id: VOLATILE_CHANNEL_ID, ordered: false, maxRetransmits: 0 });
    this.volatile = volatile;
    volatile.binaryType = 'arraybuffer';
    volatile.onmessage = (e) => { if (!this.closed) this.onVolatile(e.data); };
    pc.onicecandidate = (e) => {
      if (e.candidate && !this.closed) this.signal({ k: 'neg', link: this.linkId, candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.close(`connection ${pc.connectionState}`);
    };
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal({ k: 'neg', link: this.linkId, description: pc.localDescription.toJSON() });
      } catch (error) {
        this.log('direct offer failed', this.peerId, error);
      } finally {
        this.makingOffer = false;
      }
    };
  }

  get isOpen() { return !this.closed && this.channel.readyState === 'open'; }

  /** One negotiation signal from the other peer (a description or a candidate). */
  async receive(d) {
    if (this.closed) return;
    const pc = this.pc;
    try {
      if (d.description) {
        const offer = d.description.type === 'offer';
        const collision = offer && (this.makingOffer || pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        await pc.setRemoteDescription(d.description); // rolls back our offer when polite
        if (offer) {
          await pc.setLocalDescription();
          this.signal({ k: 'neg', link: this.linkId, description: pc.localDescription.toJSON() });
        }
      } else if (d.candidate) {
        try {
          await pc.addIceCandidate(d.candidate);
        } catch (error) {
          if (!this.ignoreOffer) throw error;
        }
      }
    } catch (error) {
      this.log('direct negotiation failed', this.peerId, error);
      this.close('negotiation failed');
    }
  }

  send(frame) { this.channel.send(frame); }

  get volatileOpen() { return !this.closed && this.volatile.readyState === 'open'; }

  /** Send a volatile frame now, or drop it (false) while the channel is behind. */
  sendVolatile(frame) {
    if (!this.volatileOpen || this.volatile.bufferedAmount > VOLATILE_HIGH_WATER) return false;
    this.volatile.send(frame);
    return true;
  }

  get bufferedAmount() { return this.channel.bufferedAmount; }

  close(reason = 'closed') {
    if (this.closed) return;
    this.closed = true;
    const { pc, channel, volatile } = this;
    channel.onopen = channel.onmessage = channel.onclose = channel.onbufferedamountlow = null;
    volatile.onmessage = null;
    try { volatile.close(); } catch { /* closed */ }
    pc.onicecandidate = pc.onconnectionstatechange = pc.onnegotiationneeded = null;
    try { channel.close(); } catch { /* closed */ }
    try { pc.close(); } catch { /* closed */ }
    this.onClosed(reason);
  }
}
