import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ErrorCodes, PeerPyRTCError } from '../src/errors.js';
import { explainFailure, iceServerError, worse } from '../src/ice-errors.js';

const event = (url, errorCode, errorText = '') => ({ url, errorCode, errorText });

test('a TURN server refusing the credentials is ERR_TURN_AUTH, with its url and status', () => {
  const error = iceServerError(event('turn:turn.example.org:3478?transport=tcp', 401, 'Unauthorized'));
  assert.equal(error.code, ErrorCodes.ERR_TURN_AUTH);
  assert.equal(error.url, 'turn:turn.example.org:3478?transport=tcp');
  assert.equal(error.iceStatus, 401);
  assert.match(error.message, /refused the credentials: 401 Unauthorized/);
  assert.equal(iceServerError(event('turns:t:5349', 431)).code, ErrorCodes.ERR_TURN_AUTH);
});

test('no answer is ERR_ICE_SERVER_UNREACHABLE; other refusals ERR_ICE_SERVER; host errors nothing', () => {
  assert.equal(iceServerError(event('stun:s:3478', 701)).code, ErrorCodes.ERR_ICE_SERVER_UNREACHABLE);
  assert.equal(iceServerError(event('turn:t:3478', 701)).code, ErrorCodes.ERR_ICE_SERVER_UNREACHABLE);
  assert.equal(iceServerError(event('turn:t:3478', 486)).code, ErrorCodes.ERR_ICE_SERVER);
  assert.equal(iceServerError(event('stun:s:3478', 401)).code, ErrorCodes.ERR_ICE_SERVER); // STUN: no creds
  assert.equal(iceServerError(event('', 701)), null);
});

test('a refusal of credentials is not replaced by a later, vaguer error', () => {
  const auth = iceServerError(event('turn:t:3478', 401));
  const unreachable = iceServerError(event('turn:t:3478', 701));
  assert.equal(worse(auth, unreachable), auth);
  assert.equal(worse(unreachable, auth), auth);
  assert.equal(worse(null, unreachable), unreachable);
  assert.equal(worse(unreachable, null), unreachable);
});

test('a failed or timed-out connection carries the TURN refusal as its code; others stay', () => {
  const auth = iceServerError(event('turn:t:3478', 401));
  const failed = new PeerPyRTCError(ErrorCodes.ERR_CONNECTION_FAILED, 'connection failed');
  const explained = explainFailure(failed, auth);
  assert.equal(explained.code, ErrorCodes.ERR_TURN_AUTH);
  assert.equal(explained.cause, failed);
  assert.match(explained.message, /connection failed: ICE server turn:t:3478 refused/);
  const timeout = new PeerPyRTCError(ErrorCodes.ERR_TIMEOUT, 'did not open');
  assert.equal(explainFailure(timeout, auth).code, ErrorCodes.ERR_TURN_AUTH);
  const forbidden = new PeerPyRTCError(ErrorCodes.ERR_FORBIDDEN, 'no');
  assert.equal(explainFailure(forbidden, auth), forbidden);
  assert.equal(explainFailure(failed, null), failed);
});
