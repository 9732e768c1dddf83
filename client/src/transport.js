// RelayTransport: one connection to the relay server: HTTP signalling, one RTCPeerConnection and
// the room's channel. It moves frames and reports loss; it knows nothing of rooms or envelopes
// beyond the goodbye. A direct (mesh) transport and a second, unreliable channel plug in beside it:
// anything with open/send/close/onFrame/onLost serves the facade (see createTransport).

import { ErrorCodes, PeerPyRTCError } from './errors.js';
import { explainFailure, iceServerError, worse } from './ice-errors.js';
import { BYE, CHANNEL_LABEL, CHANNEL_PROTOCOL, PROTOCOL_VERSION, VOLATILE_LABEL } from './protocol.js';
import { postJSON, signalingUrl } from './signaling.js';

/** Above this many buffered bytes the sender waits for bufferedamountlow. */
export const HIGH_WATER = 1 << 20;
/** ...and resumes below this (bufferedAmountLowThreshold). */
export const LOW_WATER = 256 << 10;
/** A volatile message is dropped while the volatile channel holds more than this. */
export const VOLATILE_HIGH_WATER = 64 << 10;

export class RelayTransport {
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
    this.onDrain = onDrain || (() => {});
    this.log = log || (() => {});
    this.pc = null;
    this.channel = null;
    this.volatile = null;
    /** Why a STUN/TURN server gave no candidate (ERR_TURN_AUTH, ...), if one did not. */
    this.iceError = null;
  }

  get isOpen() { return !!this.channel && this.channel.readyState === 'open'; }
  get bufferedAmount() { return this.channel ? this.channel.bufferedAmount : 0; }

  setLowWater(bytes) { if (this.channel) this.channel.bufferedAmountLowThreshold = bytes; }

  requestOptions() {
    return { timeout: this.options.requestTimeout, headers: this.options.headers || {} };
  }

  url(route) { return signalingUrl(this.options.signalingUrl, route); }

  /**
   * The ICE servers to use: the server's (POST /ice: STUN, and TURN credentials minted for this
   * peer) and the page's own `iceServers`. A server without the route (404) hands out none.
   */
  async fetchIceServers() {
    const own = this.options.iceServers || [];
    if (this.options.fetchIceServers === false) return own;
    try {
      const reply = await postJSON(this.url('ice'), { room: this.room, peer_id: this.peerId, session: this.session },
        this.requestOptions());
      return [...(Array.isArray(reply?.iceServers) ? reply.iceServers : []), ...own];
    } catch (error) {
      this.log('no ICE servers from the server', error);
      return own;
    }
  }

  /** Offer, answer, channel: resolves with the answer's session once the answer is applied. */
  async open(info) {
    this.iceServers = await this.fetchIceServers();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers, iceTransportPolicy: this.options.iceTransportPolicy || 'all',
    });
    const channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: true, protocol: CHANNEL_PROTOCOL });
    this.pc = pc;
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onbufferedamountlow = () => this.onDrain();
    channel.onmessage = (e) => this.onFrame(e.data);
    // unordered, no retransmissions: fresh state over old (an older server leaves it unopened)
    this.volatile = pc.createDataChannel(VOLATILE_LABEL, { ordered: false, maxRetransmits: 0, protocol: CHANNEL_PROTOCOL });
    this.volatile.binaryType = 'arraybuffer';
    this.volatile.onmessage = (e) => this.onFrame(e.data);
    channel.onclose = () => this.onLost('channel closed');
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this.log('connection state', state);
      if (state === 'failed' || state === 'disconnected') this.onLost(`connection ${state}`);
    };
    pc.onicecandidateerror = (e) => {
      const error = iceServerError(e);
      if (error) this.log(error.message);
      this.iceError = worse(this.iceError, error);
    };
    pc.onicecandidate = (e) => {
      if (!e.candidate || this.pc !== pc) return;
      // carries the session secret: the server may see it before our offer
      postJSON(this.url('candidate'), {
        room: this.room, peer_id: this.peerId, candidate: { ...e.candidate.toJSON(), session: this.session },
      }, this.requestOptions()).catch((err) => this.log('candidate not delivered', err));
    };
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await postJSON(this.url('offer'), {
      room: this.room,
      peer_id: this.peerId,
      offer: { sdp: pc.localDescription.sdp, type: 'offer', session: this.session, protocol: PROTOCOL_VERSION, info },
    }, this.requestOptions());
    const answer = reply && reply.answer;
    if (!answer || typeof answer.sdp !== 'string') {
      throw new PeerPyRTCError(ErrorCodes.ERR_SIGNALING, 'the /offer reply carries no answer');
    }
    if (answer.session) this.session = answer.session;
    await pc.setRemoteDescription({ type: answer.type || 'answer', sdp: answer.sdp });
    return this.session;
  }

  /** A failed or timed-out attempt: the ICE server's refusal, if there was one, says why. */
  explain(failure) { return explainFailure(failure, this.iceError); }

  /** Hand one frame to the channel (throws when it is not open). */
  send(frame) { this.channel.send(frame); }

  /** Send on the volatile channel now, or drop (false) while it is behind; without it, by the
   * room channel when that is idle. */
  sendVolatile(frame) {
    const volatile = this.volatile;
    try {
      if (volatile && volatile.readyState === 'open') {
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
  async sayGoodbye(timeout = 3000) {
    const channel = this.channel;
    if (!this.isOpen) return false;
    try { channel.send(BYE); } catch { return false; }
    return new Promise((resolve) => {
      if (channel.readyState === 'closed') { resolve(true); return; }
      const timer = setTimeout(() => resolve(false), timeout);
      channel.addEventListener('close', () => { clearTimeout(timer); resolve(true); });
    });
  }

  /** Leave over HTTP (when the channel cannot carry the goodbye). */
  leave() {
    return postJSON(this.url('leave'), this.leaveBody(), this.requestOptions());
  }

  /** A closing tab: goodbye over the channel and a beacon that survives the page. */
  goodbyeOnUnload() {
    try { this.channel.send(BYE); } catch { /* already gone */ }
    const url = this.url('leave');
    // JSON (which any /leave route parses) is only allowed same-origin; cross-origin it goes as
    // text/plain, which the package's own routes accept too
    const body = new Blob([JSON.stringify(this.leaveBody())], { type: beaconType(url) });
    globalThis.navigator?.sendBeacon?.(url, body);
  }

  leaveBody() { return { room: this.room, peer_id: this.peerId, session: this.session }; }

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
    if (volatile) try { volatile.close(); } catch { /* closed */ }
    if (channel) try { channel.close(); } catch { /* closed */ }
    if (pc) try { pc.close(); } catch { /* closed */ }
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
