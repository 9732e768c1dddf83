// The facade driven through a fake transport: no browser, no network.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebRTCConnection as Connection } from '../src/connection.js';
import { Heartbeat } from '../src/heartbeat.js';

// every connection a test makes is closed at the end (its timers would keep node running)
const connections = [];
class WebRTCConnection extends Connection {
  constructor(...args) { super(...args); connections.push(this); }
}
after(() => Promise.all(connections.map((c) => c.closeConnection().catch(() => {}))));

class FakeTransport {
  constructor(init, made) {
    Object.assign(this, init);
    this.sent = [];
    this.isOpen = false;
    this.bufferedAmount = 0;
    this.goodbyeAnswered = true;
    made.push(this);
  }
  async open(info) { this.info = info; this.isOpen = true; return this.session; }
  send(frame) { if (!this.isOpen) throw new Error('not open'); this.sent.push(frame); }
  async sayGoodbye() { this.sent.push('{"t":"bye"}'); return this.goodbyeAnswered; }
  leave() { this.leftOverHttp = true; return Promise.resolve(); }
  goodbyeOnUnload() {}
  detach() { this.detached = true; }
  close() { this.closed = true; this.isOpen = false; }
  say(...envs) { this.onFrame(JSON.stringify(envs.length === 1 ? envs[0] : envs)); }
  envelopes() { return this.sent.flatMap((f) => { const v = JSON.parse(f); return Array.isArray(v) ? v : [v]; }); }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function connection(options = {}) {
  const made = [];
  const rtc = new WebRTCConnection('room', {
    peerId: 'me', reconnectDelay: 1, createTransport: (init) => new FakeTransport(init, made), ...options,
  });
  return { rtc, made };
}

const welcome = (peers, host) => ({ t: 'welcome', v: 1, id: 'me', room: 'room', host, peers });

async function connected(options) {
  const { rtc, made } = connection(options);
  const done = rtc.connect();
  await tick();
  made[0].say(welcome([{ id: 'host' }, { id: 'me' }], 'host'));
  await done;
  return { rtc, made };
}

test('messages sent before the connection opens leave once it is welcomed, in one frame', async () => {
  const { rtc, made } = connection();
  rtc.sendMessage('early');
  rtc.emit('move', { x: 1 });
  const done = rtc.connect();
  await tick();
  assert.deepEqual(made[0].sent, []); // open but not welcomed yet: nothing leaves
  made[0].say(welcome([{ id: 'me' }], 'me'));
  await done;
  assert.equal(made[0].sent.length, 1);
  assert.deepEqual(made[0].envelopes(), [{ t: 'msg', d: 'early' }, { t: 'emit', e: 'move', d: { x: 1 } }]);
  assert.equal(rtc.isConnected(), true);
  assert.equal(made[0].info.userAgent, undefined); // shared only with sendUserAgent: true
});

test('the room state follows the server: joins, a leaving host, the new host', async () => {
  const { rtc, made } = await connected();
  const seen = [];
  rtc.onPeerJoined = (p) => seen.push(['joined', p.id, p.isHost]);
  rtc.onPeerLeft = (p) => seen.push(['left', p.id, p.isHost, p.reason]);
  made[0].say({ t: 'joined', peer: { id: 'late', name: 'L' } });
  made[0].say(
    { t: 'left', peer: { id: 'host', isHost: true }, host: 'me', reason: 'timeout' },
    { t: 'host', host: 'me' },
  );
  assert.deepEqual(seen, [['joined', 'late', false], ['left', 'host', true, 'timeout']]);
  assert.equal(rtc.isRoomHost(), true);
  assert.deepEqual(rtc.getRoomPeers().map((p) => [p.id, p.isHost, p.isSelf]), [['me', true, true], ['late', false, false]]);
  assert.equal(rtc.getPeerCount(), 2);
});

test('a lost transport is kept until the new one is welcomed (no leave and join for the room)', async () => {
  const { rtc, made } = await connected();
  made[0].onLost('channel closed');
  assert.equal(rtc.getConnectionStatus(), 'reconnecting');
  assert.equal(made[0].closed, undefined); // still open: the server still holds our place
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(made.length, 2);
  assert.equal(made[1].session, made[0].session); // the same session: the server swaps, keeps us
  made[1].say(welcome([{ id: 'host' }, { id: 'me' }], 'host'));
  await tick();
  assert.equal(made[0].closed, true);
  assert.equal(rtc.isConnected(), true);
  made[0].onFrame('{"t":"msg","d":"stale","from":"x"}'); // the old one's words are not ours
  rtc.sendMessage('back');
  await tick();
  assert.deepEqual(made[1].envelopes(), [{ t: 'msg', d: 'back' }]);
});

test('a close notice without reconnect is final', async () => {
  const { rtc, made } = await connected();
  const closes = [];
  rtc.onClose = (reason) => closes.push(reason);
  made[0].say({ t: 'close', reason: 'kicked for spam', reconnect: false });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(closes, ['kicked for spam']);
  assert.equal(rtc.getConnectionStatus(), 'closed');
  assert.equal(made.length, 1);
});

test('closing delivers what was queued, says goodbye over the channel, and posts /leave only as a fallback', async () => {
  const { rtc, made } = await connected();
  rtc.sendMessage('last words');
  await rtc.closeConnection();
  assert.deepEqual(made[0].envelopes(), [{ t: 'msg', d: 'last words' }, { t: 'bye' }]);
  assert.equal(made[0].leftOverHttp, undefined);
  assert.equal(made[0].closed, true);
  const other = await connected();
  other.made[0].goodbyeAnswered = false;
  await other.rtc.closeConnection();
  assert.equal(other.made[0].leftOverHttp, true);
});

test('sending checks sizes, names and the queue bound', async () => {
  const { rtc } = connection({ maxQueuedMessages: 2 });
  rtc.sendMessage('a');
  rtc.sendMessage('b');
  assert.throws(() => rtc.sendMessage('c'), { code: 'ERR_QUEUE_FULL' });
  assert.throws(() => rtc.emit('', 1), { code: 'ERR_INVALID_ARGUMENT' });
  const { rtc: open } = await connected();
  assert.throws(() => open.sendMessage('x'.repeat(70000)), { code: 'ERR_TOO_LARGE' });
  await open.closeConnection();
  assert.throws(() => open.sendMessage('after'), { code: 'ERR_CLOSED' });
});

test('the heartbeat pings a quiet server and gives up on a silent one', async () => {
  let pings = 0;
  const lost = [];
  const heartbeat = new Heartbeat(() => { pings += 1; }, (reason) => lost.push(reason),
    { interval: 10, timeout: 40, tick: 5 });
  heartbeat.start();
  await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(pings > 0 && lost.length === 0);
  heartbeat.heard();
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(lost.length, 1);
  assert.match(lost[0], /no word from the server/);
  heartbeat.stop();
});

test('a 429 from the server is tried again within connectTimeout; other refusals are final', async () => {
  const { PeerPyRTCError } = await import('../src/errors.js');
  let refusals = 2;
  const made = [];
  const rtc = new WebRTCConnection('room', {
    peerId: 'me',
    createTransport: (init) => {
      const t = new FakeTransport(init, made);
      if (refusals-- > 0) t.open = async () => { throw new PeerPyRTCError('ERR_SIGNALING', 'busy', { status: 429 }); };
      return t;
    },
  });
  const done = rtc.connect();
  while (made.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await tick();
  made[2].say(welcome([{ id: 'me' }], 'me'));
  await done;
  assert.equal(rtc.isConnected(), true);
  const refused = new WebRTCConnection('room', {
    peerId: 'me',
    createTransport: (init) => {
      const t = new FakeTransport(init, []);
      t.open = async () => { throw new PeerPyRTCError('ERR_FORBIDDEN', 'no', { status: 403 }); };
      return t;
    },
  });
  await assert.rejects(refused.connect(), { code: 'ERR_FORBIDDEN' });
});

test('a full room fails connect() at once with ERR_ROOM_FULL, and ends a reconnection', async () => {
  const { PeerPyRTCError } = await import('../src/errors.js');
  const full = () => new PeerPyRTCError('ERR_ROOM_FULL', 'room is full', { status: 429, serverCode: 'ERR_ROOM_FULL' });
  const tries = [];
  const rtc = new WebRTCConnection('room', {
    peerId: 'me',
    createTransport: (init) => { const t = new FakeTransport(init, tries); t.open = async () => { throw full(); }; return t; },
  });
  const started = Date.now();
  await assert.rejects(rtc.connect(), { code: 'ERR_ROOM_FULL' });
  assert.equal(tries.length, 1); // not retried like a rate limit
  assert.ok(Date.now() - started < 500);
  assert.equal(rtc.getConnectionStatus(), 'failed');

  const made = [];
  let refuse = false;
  const errors = [];
  const closed = [];
  const again = new WebRTCConnection('room', {
    peerId: 'me', reconnectDelay: 1,
    createTransport: (init) => { const t = new FakeTransport(init, made); if (refuse) t.open = async () => { throw full(); }; return t; },
  });
  again.onError = (e) => errors.push(e.code);
  again.onClose = (reason) => closed.push(reason);
  const done = again.connect();
  while (made.length < 1) await tick();
  await tick();
  made[0].say(welcome([{ id: 'me' }], 'me'));
  await done;
  refuse = true;
  made[0].onLost('gone');
  while (again.getConnectionStatus() !== 'failed') await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(made.length, 2); // one attempt, then final
  assert.deepEqual(errors, ['ERR_ROOM_FULL']);
  assert.equal(closed.length, 1);
});
