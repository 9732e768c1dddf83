import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FRAME_BYTES, batch, byteLength, decodeFrame, encodeBroadcast, encodeEmit, encodeMessage, frames,
} from '../src/protocol.js';

test('envelopes match docs/protocol.md', () => {
  assert.deepEqual(JSON.parse(encodeMessage('hi')), { t: 'msg', d: 'hi' });
  assert.deepEqual(JSON.parse(encodeEmit('move', { x: 1 })), { t: 'emit', e: 'move', d: { x: 1 } });
  assert.deepEqual(JSON.parse(encodeEmit('w', 'psst', 'bob')), { t: 'emit', e: 'w', d: 'psst', to: 'bob' });
  assert.deepEqual(JSON.parse(encodeEmit('ping')), { t: 'emit', e: 'ping', d: null });
  assert.deepEqual(JSON.parse(encodeBroadcast('go', [1])), { t: 'bcast', e: 'go', d: [1] });
});

test('a batch decodes in order; a batch of one is the envelope', () => {
  const raws = [encodeMessage('a'), encodeEmit('b', 2)];
  assert.equal(batch([raws[0]]), raws[0]);
  assert.deepEqual(decodeFrame(batch(raws)).map((e) => e.t), ['msg', 'emit']);
  assert.deepEqual(decodeFrame('{"t":"welcome","peers":[]}'), [{ t: 'welcome', peers: [] }]);
  assert.deepEqual(decodeFrame('[1, null, {"x":1}, {"t":"msg","d":"ok"}]'), [{ t: 'msg', d: 'ok' }]);
  assert.throws(() => decodeFrame('not json'), SyntaxError);
});

test('frames never exceed the SCTP message size and keep order', () => {
  const raws = Array.from({ length: 300 }, (_, i) => encodeMessage(`${i}:${'x'.repeat(1000)}`));
  const out = frames(raws);
  assert.ok(out.length > 1);
  for (const f of out) assert.ok(byteLength(f) <= MAX_FRAME_BYTES);
  const texts = out.flatMap((f) => decodeFrame(f)).map((e) => e.d);
  assert.deepEqual(texts, raws.map((r) => JSON.parse(r).d));
});

test('byteLength counts UTF-8 bytes', () => {
  assert.equal(byteLength('abc'), 3);
  assert.equal(byteLength('é'), 2);
  assert.equal(byteLength('😀'), 4);
});
