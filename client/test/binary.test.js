import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHUNK_FRAME_BYTES, Reassembly, decodeBody, encodeFrames, hasBinary, pack, parseFrame, readBlobs,
} from '../src/binary.js';
import { BULK_HIGH_WATER, BULK_LOW_WATER, Outbox } from '../src/outbox.js';

const bytes = (n, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
const same = (a, b) => assert.deepEqual(new Uint8Array(a), new Uint8Array(b));

test('binary values anywhere become placeholders and come back as ArrayBuffers', () => {
  const data = { name: 'pic', parts: [bytes(3), new DataView(bytes(2).buffer), bytes(4).buffer], n: 1 };
  assert.ok(hasBinary(data) && !hasBinary({ a: [1, 'x', null] }));
  const { frames, total } = encodeFrames({ t: 'emit', e: 'f' }, data, 1, 1 << 20);
  assert.equal(frames.length, 1);
  const { header, payload } = parseFrame(frames[0].buffer);
  assert.deepEqual(header.b, [3, 2, 4]);
  assert.equal(payload.length, total);
  const json = JSON.parse(new TextDecoder().decode(payload.subarray(0, header.j)));
  assert.deepEqual(json.parts[0], { _placeholder: true, num: 0 }); // socket.io's placeholder
  const back = decodeBody(header, payload);
  assert.equal(back.name, 'pic');
  assert.ok(back.parts.every((p) => p instanceof ArrayBuffer));
  same(back.parts[0], bytes(3));
  same(back.parts[2], bytes(4));
});

test('a large message is split below 16 KiB and reassembled byte for byte', () => {
  const big = bytes(300 * 1024, 7);
  const { frames, sizes, total } = encodeFrames({ t: 'emit', e: 'f' }, { f: big }, 42, 16 << 20);
  assert.ok(frames.length > 18);
  assert.ok(frames.every((f) => f.length <= CHUNK_FRAME_BYTES));
  assert.equal(sizes.reduce((a, b) => a + b, 0), total);
  const r = new Reassembly();
  let result;
  for (const f of frames) {
    const { header, payload } = parseFrame(f);
    result = r.add('alice', header, payload);
  }
  assert.equal(result.got, total);
  same(decodeBody(result.first, result.body).f, big);
  assert.equal(r.size, 0);
  assert.equal(r.held, 0);
});

test('out of order, duplicate, unknown and overlong parts are refused and leave nothing held', () => {
  const { frames } = encodeFrames({ t: 'emit', e: 'f' }, bytes(100000), 9, 16 << 20);
  const parsed = frames.map((f) => parseFrame(f));
  const r = new Reassembly();
  r.add('a', parsed[0].header, parsed[0].payload);
  assert.throws(() => r.add('a', parsed[2].header, parsed[2].payload)); // skips a part
  assert.equal(r.size, 0);
  assert.throws(() => r.add('a', { t: 'part', m: 5, o: 0 }, bytes(3))); // not in progress
  r.add('a', { t: 'emit', e: 'f', m: 1, z: 4 }, bytes(2));
  assert.throws(() => r.add('a', { t: 'part', m: 1, o: 2 }, bytes(5))); // past its end
  assert.equal(r.held, 0);
  const small = new Reassembly(64, 10);
  assert.throws(() => small.add('a', { t: 'emit', e: 'f', m: 1, z: 100 }, bytes(11))); // bytes held
  r.add('b', { t: 'emit', e: 'f', m: 1, z: 4 }, bytes(2));
  r.dropSender('b');
  assert.equal(r.size, 0);
  assert.throws(() => parseFrame(pack('[1]')));
  assert.throws(() => parseFrame(new Uint8Array([0, 0, 0, 9, 1]).buffer));
});

test('over the limit is refused before anything is sent', () => {
  assert.throws(() => encodeFrames({ t: 'emit', e: 'f' }, bytes(101), 1, 100), { code: 'ERR_TOO_LARGE' });
});

test('Blobs are read before sending', async () => {
  const out = await readBlobs({ a: [new Blob([bytes(5)])] });
  assert.ok(out.a[0] instanceof ArrayBuffer);
  same(out.a[0], bytes(5));
});

test('bulk frames wait behind small messages and below the bulk high-water mark', async () => {
  const sent = [];
  const lowWater = [];
  const transport = {
    isOpen: true, bufferedAmount: 0, setLowWater: (n) => lowWater.push(n),
    send: (f) => { sent.push(f); transport.bufferedAmount += f.length; },
  };
  const outbox = new Outbox(10);
  outbox.transport = transport;
  const left = [];
  for (let i = 0; i < 100; i += 1) outbox.putBulk(bytes(16000), (ok) => left.push(ok));
  outbox.put('{"t":"msg","d":"chat"}');
  await new Promise((r) => queueMicrotask(r));
  assert.equal(sent[0], '{"t":"msg","d":"chat"}'); // the chat line went first
  // then bulk frames up to BULK_HIGH_WATER (64 KiB): a chat line sent later waits for little
  assert.equal(sent.length, 1 + Math.floor(BULK_HIGH_WATER / 16000) + 1);
  assert.ok(left.every(Boolean)); // the rest waits for drain, woken at the bulk low-water mark
  assert.equal(lowWater.at(-1), BULK_LOW_WATER);
  const before = sent.length;
  transport.bufferedAmount = 0;
  outbox.flush();
  assert.equal(sent.length, before + 5);
  outbox.failBulk();
  assert.equal(left.length, 100);
  assert.ok(left.includes(false));
});
