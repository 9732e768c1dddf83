// Errors carry a stable `code` (ERR_*) so applications can branch on them.

export const ErrorCodes = Object.freeze({
  ERR_INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  ERR_SIGNALING: 'ERR_SIGNALING',
  ERR_PEER_ID_TAKEN: 'ERR_PEER_ID_TAKEN',
  ERR_ROOM_FULL: 'ERR_ROOM_FULL',
  ERR_FORBIDDEN: 'ERR_FORBIDDEN',
  ERR_TIMEOUT: 'ERR_TIMEOUT',
  ERR_CONNECTION_FAILED: 'ERR_CONNECTION_FAILED',
  ERR_RECONNECT_FAILED: 'ERR_RECONNECT_FAILED',
  ERR_CLOSED: 'ERR_CLOSED',
  ERR_QUEUE_FULL: 'ERR_QUEUE_FULL',
  ERR_TOO_LARGE: 'ERR_TOO_LARGE',
  ERR_NOT_CONNECTED: 'ERR_NOT_CONNECTED',
  ERR_SERVER: 'ERR_SERVER',
  ERR_TURN_AUTH: 'ERR_TURN_AUTH',
  ERR_ICE_SERVER_UNREACHABLE: 'ERR_ICE_SERVER_UNREACHABLE',
  ERR_ICE_SERVER: 'ERR_ICE_SERVER',
});

export class PeerPyRTCError extends Error {
  /**
   * @param {string} code one of ErrorCodes
   * @param {string} message what happened, for humans
   * @param {object} [details] extra facts (HTTP status, server code...)
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'PeerPyRTCError';
    this.code = code;
    Object.assign(this, details);
  }
}

/**
 * A refusal that trying again cannot change (room full, forbidden, id taken, a malformed
 * request): connect() and reconnection give up at once. Rate limits (429) and 5xx are not.
 */
export function isFinalRefusal(error) {
  if (error?.code === ErrorCodes.ERR_ROOM_FULL) return true;
  return [400, 401, 403, 404, 409, 413].includes(error?.status);
}
