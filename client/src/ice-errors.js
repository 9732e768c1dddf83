// What a STUN/TURN server said when it gave no candidate (RTCPeerConnection's icecandidateerror),
// as a PeerPyRTCError with a stable code; a failed connection carries it as its reason.

import { ErrorCodes, PeerPyRTCError } from './errors.js';

const AUTH_FAILURES = [401, 403, 431];

/** The error for one icecandidateerror event (null when it names no STUN/TURN server). */
export function iceServerError(event) {
  const url = event?.url || '';
  if (!/^(stuns?|turns?):/.test(url)) return null;
  const status = event.errorCode;
  let code = ErrorCodes.ERR_ICE_SERVER;
  let what = 'refused';
  if (url.startsWith('turn') && AUTH_FAILURES.includes(status)) {
    code = ErrorCodes.ERR_TURN_AUTH;
    what = 'refused the credentials';
  } else if (status >= 700 && status < 800) {
    code = ErrorCodes.ERR_ICE_SERVER_UNREACHABLE;
    what = 'could not be reached';
  }
  const text = event.errorText ? ` ${event.errorText}` : '';
  return new PeerPyRTCError(code, `ICE server ${url} ${what}: ${status}${text}`, { url, iceStatus: status });
}

/** Keep the most telling error: a refusal of credentials is not replaced by a later one. */
export function worse(current, next) {
  if (!next) return current;
  if (current?.code === ErrorCodes.ERR_TURN_AUTH) return current;
  return next;
}

/** A connection that failed or timed out: the ICE server's error, if any, says why. */
export function explainFailure(failure, iceError) {
  const generic = [ErrorCodes.ERR_CONNECTION_FAILED, ErrorCodes.ERR_TIMEOUT];
  if (!iceError || !generic.includes(failure?.code)) return failure;
  return new PeerPyRTCError(iceError.code, `${failure.message}: ${iceError.message}`,
    { url: iceError.url, iceStatus: iceError.iceStatus, cause: failure });
}
