// The mesh's per-pair rules, with fake links and a fake relay: whatever the path does mid-stream
// (opens, drops), each receiver gets each sender's messages once and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh } from '../src/mesh.js';

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class FakeLink {
  static all = new Map(); // linkId -> [links]
  constructor(init) {
    Object.assign(this, init);
    this.closed = false;
    this.isOpen = false;
    this.bufferedAmount = 0;
    this.sent = [];
    const pair = FakeLink.all.get(this.linkId) || [];
    pair.push(this);
    FakeLink.all.set(this.linkId, pair);
    if (!this.polite) queueMicrotask(() => this.signal({ k: 'neg', link: this.linkId, description: {} }));
  }
  get other() { return FakeLink.all.get(this.linkId).find((l) => l !== this); }
  receive() {}
  open() { for (const l of FakeLink.all.get(this.linkId)) { l.isOpen = true; l.onOpen(); } }
  send(frame) {
    if (!this.isOpen) throw new Error('closed');
    this.sent.push(frame);
    const other = this.other;
    setImmediate(() => { if (!other.closed) other.onFrame(frame); });
  }
  close(reason = 'closed') {
    if (this.closed) return;
    this.closed = true;
    this.isOpen = false;
    this.onClosed(reason);
    this.other?.close('channel closed');
  }
}

/** Two peers, a relay with latency, and what each app received. */
function room(relayLatency = 4) {
  const meshes = {};
  const got = { a: [], b: [] };
  const relay = (from, to, env) => setTimeout(() => {
    if (env.t === 'sig') meshes[to].onSignal(from, env.d);
    else got[to].push(env.d);
  }, relayLatency);
  for (const [self, other] of [['a', 'b'], ['b', 'a']]) {
    meshes[self] = new Mesh({
      selfId: self,
      members: () => ['a', 'b'],
      signal: (to, d) => relay(self, to, { t: 'sig', to, d }),
      deliver: (from, env) => got[self].push(env.d),
      config: () => ({}),
      changed: () => {},
      log: () => {},
      createLink: (init) => new FakeLink(init),
    });
    meshes[self].relayed = (raw) => relay(self, other, JSON.parse(raw));
  }
  const send = (from, text) => {
    const raw = JSON.stringify({ t: 'msg', d: text });
    const relayed = meshes[from].route(raw, undefined);
    if (relayed !== null) meshes[from].relayed(relayed);
  };
  return { meshes, got, send };
}

test('a mesh room opens one link per pair, started by the impolite side', async () => {
  FakeLink.all.clear();
  const { meshes } = room();
  for (const m of Object.values(meshes)) m.configure({ topology: 'mesh', meshMaxPeers: 8 });
  await wait(20);
  const [links] = [...FakeLink.all.values()];
  assert.equal(FakeLink.all.size, 1);
  assert.deepEqual(links.map((l) => l.polite), [false, true]); // b (impolite) started it
  links[0].open();
  assert.equal(meshes.a.isDirect('b'), true);
  assert.equal(meshes.b.isDirect('a'), true);
});

test('switching to the link mid-stream and back loses, repeats and reorders nothing', async () => {
  FakeLink.all.clear();
  const { meshes, got, send } = room(15); // the relay is slower than the link
  for (const m of Object.values(meshes)) m.configure({ topology: 'mesh', meshMaxPeers: 8 });
  let n = 0;
  const burst = async (count) => { for (let i = 0; i < count; i += 1) { send('a', `m${n++}`); if (i % 7 === 0) await wait(1); } };
  await wait(40); // the link is made (its first signal went through the relay)
  await burst(50); // through the relay
  const [link] = FakeLink.all.values();
  link[0].open(); // mid-stream: the relay still carries earlier messages
  await burst(100);
  await wait(3); // delivered, not all acknowledged yet
  link[1].close('channel closed'); // the link drops
  await burst(50);
  await wait(150);
  assert.deepEqual(got.b, Array.from({ length: n }, (_, i) => `m${i}`));
  assert.equal(meshes.a.isDirect('b'), false);
});

test('a peer past the mesh cap is reached through the relay', async () => {
  FakeLink.all.clear();
  const mesh = new Mesh({
    selfId: 'c', members: () => ['a', 'b', 'c'], signal: () => {}, deliver: () => {},
    config: () => ({}), changed: () => {}, log: () => {}, createLink: (init) => new FakeLink(init),
  });
  mesh.configure({ topology: 'mesh', meshMaxPeers: 2 });
  assert.equal(mesh.pairs.size, 0);
  const raw = '{"t":"msg","d":"x"}';
  assert.equal(mesh.route(raw), raw);
  const relay = new Mesh({
    selfId: 'a', members: () => ['a', 'b'], signal: () => {}, deliver: () => {},
    config: () => ({}), changed: () => {}, log: () => {}, createLink: (init) => new FakeLink(init),
  });
  relay.configure({ topology: 'relay' });
  assert.equal(relay.pairs.size, 0);
  assert.equal(relay.route(raw), raw);
});

test('a direct link above its high-water mark holds the rest until it drains, in order', async () => {
  FakeLink.all.clear();
  const { meshes, got, send } = room();
  for (const m of Object.values(meshes)) m.configure({ topology: 'mesh', meshMaxPeers: 8 });
  await wait(20);
  const [links] = [...FakeLink.all.values()];
  links[0].open();
  await wait(10); // the switch went through the relay
  const sender = links.find((l) => !l.polite); // b's link (b started it)
  const chunk = 'x'.repeat(30000);
  send('b', `${chunk}0`);
  await wait(1); // it left
  sender.bufferedAmount = 2 << 20; // Chromium's buffer fills: above HIGH_WATER (1 MiB)
  for (let i = 1; i <= 5; i += 1) send('b', `${chunk}${i}`);
  await wait(5);
  assert.equal(sender.sent.length, 1, 'nothing more is handed to a full channel');
  sender.bufferedAmount = 0;
  sender.onDrain(); // bufferedamountlow
  await wait(20);
  assert.deepEqual(got.a, Array.from({ length: 6 }, (_, i) => `${chunk}${i}`));
  // the five held ones left in frames of at most 64 KB (two 30 KB messages each), numbered on
  const seqs = sender.sent.map((f) => JSON.parse(f).s);
  assert.deepEqual(seqs, [1, 2, 4, 6]);
});
