// peerpyrtc-client: real-time rooms over WebRTC DataChannels, relayed by a Python server.

export { WebRTCConnection } from './connection.js';
export { DEFAULTS, generatePeerId } from './options.js';
export { WebRTCRoomManager } from './room-manager.js';
export { Emitter } from './emitter.js';
export { ErrorCodes, PeerPyRTCError } from './errors.js';
export { PROTOCOL_VERSION } from './protocol.js';
export { reconnectDelay } from './backoff.js';
