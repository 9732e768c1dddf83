// Volatile messages in a mesh room: direct where the peer's link has the volatile channel, the
// rest through the relay with `x`; what arrives on a link is checked as the server checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeVolatile, volatileEnvelope, withSkip } from '../src/mesh-volatile.js';
import { encodeFrames, parseFrame } from '../src/binary.js';

function fakeMesh(pairs) {
  const sent = [];
  const mesh = {
    active: true,
    host: { selfId: 'a', members: () => ['a', ...Object.keys(pairs)] },
    pairs: new Map(Object.entries(pairs).map(([id, p]) => [id, {
      volatile: p.volatile, canSend: p.canSend,
      link: { volatileOpen: p.open, sendVolatile: (f) => sent.push([id, f]) },
    }])),
  };
  return { mesh, sent };
}

test('direct to peers whose link has the volatile channel, the rest relayed with x', () => {
  const { mesh, sent } = fakeMesh({
    b: { volatile: true, canSend: true, open: true },
    c: { volatile: false, canSend: true, open: true }, // an older peer: no volatile channel
    d: { volatile: true, canSend: false, open: true }, // its link fell back
  });
  const raw = '{"t":"emit","e":"cur","d":1}';
  assert.equal(routeVolatile(mesh, raw, undefined), '{"t":"emit","e":"cur","d":1,"x":["b"]}');
  assert.deepEqual(sent, [['b', raw]]);
  assert.equal(routeVolatile(mesh, raw, 'b'), null); // to one peer reached directly
  assert.equal(routeVolatile(mesh, raw, 'c'), raw);
  mesh.active = false;
  assert.equal(routeVolatile(mesh, raw, undefined), raw); // a relay room
});

test('a binary frame gets x in its header, its payload untouched', () => {
  const { frames } = encodeFrames({ t: 'emit', e: 'bin' }, new Uint8Array([1, 2, 3]), 1, 16384);
  const skipped = withSkip(frames[0], ['b', 'c']);
  const { header, payload } = parseFrame(skipped);
  assert.deepEqual(header.x, ['b', 'c']);
  assert.equal(header.e, 'bin');
  assert.deepEqual([...payload], [...parseFrame(frames[0]).payload]);
});

test('only a whole emit within 16 KiB is taken from a link', () => {
  assert.deepEqual(volatileEnvelope('{"t":"emit","e":"x","d":[1]}'), { t: 'emit', e: 'x', d: [1] });
  const { frames } = encodeFrames({ t: 'emit', e: 'b' }, { k: new Uint8Array([9]) }, 1, 16384);
  const env = volatileEnvelope(frames[0].buffer);
  assert.equal(env.e, 'b');
  assert.deepEqual([...new Uint8Array(env.d.k)], [9]);
  for (const bad of [
    '{"t":"msg","d":"x"}', '{"t":"emit","e":""}', '{"t":"emit","e":1}', 'not json', '[]', 'null',
    `{"t":"emit","e":"x","d":"${'y'.repeat(17000)}"}`,
    new Uint8Array([0, 0]).buffer,
    encodeFrames({ t: 'emit', e: 'b', from: 'mallory' }, new Uint8Array([1]), 1, 16384).frames[0].buffer,
    encodeFrames({ t: 'emit', e: 'b' }, new Uint8Array(20000), 1, 1 << 20).frames[0].buffer,
  ]) assert.equal(volatileEnvelope(bad), null, String(bad).slice(0, 40));
});
