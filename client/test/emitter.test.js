import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '../src/emitter.js';

test('on returns an unsubscribe function; handlers compose', () => {
  const e = new Emitter();
  const seen = [];
  const offA = e.on('x', (v) => seen.push(['a', v]));
  e.on('x', (v) => seen.push(['b', v]));
  e.emit('x', 1);
  offA();
  e.emit('x', 2);
  assert.deepEqual(seen, [['a', 1], ['b', 1], ['b', 2]]);
});

test('the same function twice runs twice and off removes one', () => {
  const e = new Emitter();
  let n = 0;
  const f = () => { n += 1; };
  e.on('x', f);
  e.on('x', f);
  e.emit('x');
  assert.equal(n, 2);
  e.off('x', f);
  e.emit('x');
  assert.equal(n, 3);
  e.off('x');
  e.emit('x');
  assert.equal(n, 3);
});

test('once fires once', () => {
  const e = new Emitter();
  const seen = [];
  e.once('x', (v) => seen.push(v));
  e.emit('x', 1);
  e.emit('x', 2);
  assert.deepEqual(seen, [1]);
});

test('a throwing handler does not stop the others', () => {
  const e = new Emitter();
  const errors = [];
  e.onHandlerError = (err, event) => errors.push([err.message, event]);
  const seen = [];
  e.on('x', () => { throw new Error('boom'); });
  e.on('x', (v) => seen.push(v));
  e.emit('x', 7);
  assert.deepEqual(seen, [7]);
  assert.deepEqual(errors, [['boom', 'x']]);
});

test('onAny sees every event with its name', () => {
  const e = new Emitter();
  const seen = [];
  const off = e.onAny((event, ...args) => seen.push([event, ...args]));
  e.emit('a', 1, 2);
  off();
  e.emit('b');
  assert.deepEqual(seen, [['a', 1, 2]]);
});
