// postJSON against a real HTTP server on port 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { postJSON, signalingUrl } from '../src/signaling.js';

let server;
let base;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.url === '/ok') { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify({ echo: JSON.parse(body) })); }
      else if (req.url === '/html500') { res.statusCode = 500; res.setHeader('Content-Type', 'text/html'); res.end('<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>'); }
      else if (req.url === '/taken') { res.statusCode = 409; res.end(JSON.stringify({ error: "peer id 'a' is already in use", code: 'ERR_PEER_ID_TAKEN' })); }
      else if (req.url === '/full') { res.statusCode = 429; res.end(JSON.stringify({ error: "room 'r' is full", code: 'ERR_ROOM_FULL' })); }
      else if (req.url === '/busy') { res.statusCode = 429; res.end(JSON.stringify({ error: 'too many offers', code: 'ERR_RATE_LIMITED' })); }
      else if (req.url === '/slow') { /* never answers */ }
      else { res.statusCode = 200; res.end('not json'); }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => { server.closeAllConnections(); server.close(); });

test('answers are decoded', async () => {
  assert.deepEqual(await postJSON(`${base}/ok`, { a: 1 }), { echo: { a: 1 } });
});

test('an HTML 500 (the seed\'s plain routes) says what happened', async () => {
  await assert.rejects(postJSON(`${base}/html500`, {}), (err) => {
    assert.equal(err.code, 'ERR_SIGNALING');
    assert.equal(err.status, 500);
    assert.match(err.message, /answered 500 \(not JSON\): 500 Internal Server Error/);
    return true;
  });
});

test('JSON errors keep the server\'s message and map to a code', async () => {
  await assert.rejects(postJSON(`${base}/taken`, {}), (err) => {
    assert.equal(err.code, 'ERR_PEER_ID_TAKEN');
    assert.equal(err.status, 409);
    assert.match(err.message, /already in use/);
    return true;
  });
});

test('a 200 that is not JSON is an error', async () => {
  await assert.rejects(postJSON(`${base}/weird`, {}), /not JSON/);
});

test('a server that never answers times out', async () => {
  await assert.rejects(postJSON(`${base}/slow`, {}, { timeout: 100 }), (err) => err.code === 'ERR_TIMEOUT');
});

test('an unreachable server is a signalling error', async () => {
  await assert.rejects(postJSON('http://127.0.0.1:1/offer', {}), (err) => err.code === 'ERR_SIGNALING');
});

test('signalingUrl joins paths', () => {
  assert.equal(signalingUrl('', 'offer'), '/offer');
  assert.equal(signalingUrl('http://h:5000/', 'offer'), 'http://h:5000/offer');
  assert.equal(signalingUrl('/api/rtc', 'leave'), '/api/rtc/leave');
});

test('a full room is ERR_ROOM_FULL (final); a rate limit stays ERR_SIGNALING with status 429', async () => {
  const { isFinalRefusal } = await import('../src/errors.js');
  const full = await postJSON(`${base}/full`, {}).catch((e) => e);
  assert.equal(full.code, 'ERR_ROOM_FULL');
  assert.equal(full.status, 429);
  assert.equal(full.serverCode, 'ERR_ROOM_FULL');
  assert.equal(isFinalRefusal(full), true);
  const busy = await postJSON(`${base}/busy`, {}).catch((e) => e);
  assert.equal(busy.code, 'ERR_SIGNALING');
  assert.equal(busy.status, 429);
  assert.equal(isFinalRefusal(busy), false);
});
