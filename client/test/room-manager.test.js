// The pure parts of the client: frames from the server through a connection's
// emitters into a room manager's composed handlers (no RTCPeerConnection needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebRTCConnection, WebRTCRoomManager } from '../src/index.js';

function managerWithRoom(roomId) {
  const manager = new WebRTCRoomManager('user123');
  const connection = new WebRTCConnection(roomId, { peerId: 'user123' });
  manager._wire(roomId, connection);
  manager.rooms.set(roomId, connection);
  return { manager, connection };
}

test('global and per-room handlers compose; registering more never replaces', () => {
  const { manager, connection } = managerWithRoom('lobby');
  const seen = [];
  manager.on('chat-message', (...a) => seen.push(['g1', ...a]));
  manager.on('chat-message', (...a) => seen.push(['g2', ...a]));
  manager.onRoom('lobby', 'chat-message', (...a) => seen.push(['room', ...a]));
  manager.onRoom('other', 'chat-message', (...a) => seen.push(['other', ...a]));
  connection._onFrame(JSON.stringify([{ t: 'emit', e: 'chat-message', d: 'hi', from: 'bob' }]));
  assert.deepEqual(seen, [['g1', 'lobby', 'bob', 'hi'], ['g2', 'lobby', 'bob', 'hi'], ['room', 'lobby', 'bob', 'hi']]);
});

test('plain messages reach manager handlers for "message"', () => {
  const { manager, connection } = managerWithRoom('lobby');
  const seen = [];
  manager.on('message', (...a) => seen.push(a));
  connection._onFrame('{"t":"msg","d":"hello","from":"ann"}');
  assert.deepEqual(seen, [['lobby', 'ann', 'hello']]);
});

test('user callbacks and manager wiring coexist on one connection', () => {
  const { manager, connection } = managerWithRoom('lobby');
  const seen = [];
  connection.onMessage = (from, data, event) => seen.push(['cb', from, data, event]);
  connection.on('move', (from, data) => seen.push(['on', from, data]));
  manager.on('move', (room, from, data) => seen.push(['mgr', room, from, data]));
  connection._onFrame('{"t":"bcast","e":"move","d":1,"from":"bob","n":1}');
  assert.deepEqual(seen, [['cb', 'bob', 1, 'move'], ['on', 'bob', 1], ['mgr', 'lobby', 'bob', 1]]);
});

test('room state: welcome, joined, left and host updates', () => {
  const connection = new WebRTCConnection('r', { peerId: 'me' });
  const updates = [];
  const joined = [];
  const left = [];
  connection.onRoomUpdate = (peers) => updates.push(peers.map((p) => `${p.id}${p.isHost ? '*' : ''}`).join(','));
  connection.onPeerJoined = (p) => joined.push(p.id);
  connection.onPeerLeft = (p) => left.push(p.id);
  connection._onFrame(JSON.stringify({ t: 'welcome', v: 1, id: 'me', host: 'a', peers: [{ id: 'a', isHost: true }, { id: 'me', isHost: false }] }));
  connection._onFrame(JSON.stringify([{ t: 'joined', peer: { id: 'b', isHost: false } }, { t: 'left', peer: { id: 'a' }, host: 'me' }, { t: 'host', host: 'me' }]));
  assert.deepEqual(joined, ['b']);
  assert.deepEqual(left, ['a']);
  assert.equal(updates.at(-1), 'me*,b');
  assert.equal(connection.isRoomHost(), true);
  assert.equal(connection.getPeerCount(), 2);
  assert.deepEqual(connection.getRoomPeers().find((p) => p.isSelf).id, 'me');
});

test('sending after closeConnection is a clear error; before open it queues, bounded', async () => {
  const connection = new WebRTCConnection('r', { maxQueuedMessages: 2 });
  connection.sendMessage('one');
  connection.emit('e', 2);
  assert.throws(() => connection.broadcast('b', 3), (err) => err.code === 'ERR_QUEUE_FULL');
  assert.throws(() => connection.emit(''), (err) => err.code === 'ERR_INVALID_ARGUMENT');
  assert.throws(() => connection.sendMessage('x'.repeat(70000)), (err) => err.code === 'ERR_TOO_LARGE');
  connection.options.signalingUrl = 'http://127.0.0.1:1';
  await connection.closeConnection();
  assert.throws(() => connection.sendMessage('late'), (err) => err.code === 'ERR_CLOSED');
  await assert.rejects(connection.connect(), (err) => err.code === 'ERR_CLOSED');
});

test('joinRooms reports one result per room and a failure does not sink the rest', async () => {
  const manager = new WebRTCRoomManager('u');
  manager.joinRoom = async (id) => {
    if (id === 'bad') throw new Error('refused');
    return { roomId: id };
  };
  const results = await manager.joinRooms(['a', 'bad', 'c']);
  assert.deepEqual(results.map((r) => [r.roomId, r.success, r.error?.message ?? null]),
    [['a', true, null], ['bad', false, 'refused'], ['c', true, null]]);
});

test('malformed server envelopes are skipped, the next ones still land', () => {
  const connection = new WebRTCConnection('r', { peerId: 'me' });
  const seen = [];
  connection.on('x', (from, data) => seen.push([from, data]));
  connection._onFrame(JSON.stringify([{ t: 'joined' }, { t: 'left', peer: null }, { t: 'emit', e: 'x', d: 1, from: 'a' }]));
  assert.deepEqual(seen, [['a', 1]]);
});
