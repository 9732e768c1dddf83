import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RECONNECT_DELAY, reconnectDelay } from '../src/backoff.js';

test('the first retry is jittered too (tabs of a restarted server spread out)', () => {
  assert.equal(reconnectDelay(1, 2000, () => 0.5), 2000);
  assert.equal(reconnectDelay(1, 2000, () => 0), 1500);
  assert.equal(reconnectDelay(1, 2000, () => 0.999999), 2500);
  const samples = new Set(Array.from({ length: 50 }, () => reconnectDelay(1, 2000)));
  assert.ok(samples.size > 1, 'jitter varies the first delay');
});

test('later retries grow, with jitter of plus or minus 25 percent', () => {
  assert.equal(reconnectDelay(2, 2000, () => 0.5), 4000);
  assert.equal(reconnectDelay(2, 2000, () => 0), 3000);
  assert.equal(reconnectDelay(3, 2000, () => 0.999999), 10000);
  const samples = new Set(Array.from({ length: 50 }, () => reconnectDelay(3, 2000)));
  assert.ok(samples.size > 1, 'jitter varies the delay');
  for (const d of samples) assert.ok(d >= 6000 && d <= 10000);
});

test('delays are capped', () => {
  assert.ok(reconnectDelay(30, 2000, () => 0.999) <= MAX_RECONNECT_DELAY * 1.25);
  assert.ok(reconnectDelay(30, 2000, () => 0) >= MAX_RECONNECT_DELAY * 0.75);
});
