// Binary frames from tests/cases/binary.json, which the Python suite checks too
// (tests/unit/test_binary_cases.py): both codecs write the same bytes and read them back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeBody, encodeFrames, parseFrame } from '../src/binary.js';

const CASES = JSON.parse(readFileSync(new URL('../../tests/cases/binary.json', import.meta.url), 'utf8'));

const fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
const toHex = (u8) => [...u8].map((b) => b.toString(16).padStart(2, '0')).join('');

function unmark(value) {
  if (Array.isArray(value)) return value.map(unmark);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$bytes') return fromHex(value.$bytes);
    return Object.fromEntries(keys.map((k) => [k, unmark(value[k])]));
  }
  return value;
}

/** Received data with ArrayBuffers as hex markers again, to compare with the case's. */
function mark(value) {
  if (value instanceof ArrayBuffer) return { $bytes: toHex(new Uint8Array(value)) };
  if (Array.isArray(value)) return value.map(mark);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mark(v)]));
  return value;
}

for (const c of CASES.cases) {
  test(c.name, () => {
    const { frames } = encodeFrames(c.routing, unmark(c.data), c.message_id, 16 << 20, c.frame_bytes);
    assert.deepEqual(frames.map(toHex), c.frames);
    const parsed = c.frames.map((h) => parseFrame(fromHex(h)));
    const first = parsed[0].header;
    assert.equal(first.t, c.routing.t);
    assert.equal(first.m === undefined, frames.length === 1);
    const total = parsed.reduce((n, p) => n + p.payload.length, 0);
    const body = new Uint8Array(total);
    let at = 0;
    for (const { payload } of parsed) { body.set(payload, at); at += payload.length; }
    assert.deepEqual(mark(decodeBody(first, body)), c.data);
    for (const { header } of parsed.slice(1)) assert.deepEqual([header.t, header.m], ['part', c.message_id]);
  });
}
