// The connection's options and defaults, and the random ids and session secrets it makes.

import { RelayTransport } from './transport.js';

export function randomToken(bytes) {
  const data = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(data);
  let text = '';
  for (const b of data) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function generatePeerId() {
  return `peer-${randomToken(6).replace(/[-_]/g, 'x')}`;
}

export const DEFAULTS = Object.freeze({
  debug: false,
  // retried with capped, jittered backoff until reconnectTimeout has passed
  maxReconnectAttempts: Infinity,
  reconnectDelay: 2000,
  reconnectTimeout: 120000,
  sendUserAgent: false,
  iceServers: [],
  signalingUrl: '',
  peerInfo: {},
  requestTimeout: 10000,
  connectTimeout: 15000,
  maxQueuedMessages: 1000,
  headers: {},
  // (init) => transport; the relay transport unless a test or a later topology says otherwise
  createTransport: (init) => new RelayTransport(init),
  meshIceTransportPolicy: 'all',
  iceTransportPolicy: 'all',
  fetchIceServers: true,
});
