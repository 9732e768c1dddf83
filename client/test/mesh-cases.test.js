// The mesh's receiving rules from tests/cases/mesh.json, which the Python client's suite runs
// too (tests/test_mesh_cases.py): the two implementations cannot drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as meshModule from '../src/mesh.js';

const CASES = JSON.parse(readFileSync(new URL('../../tests/cases/mesh.json', import.meta.url), 'utf8'));

class FakeLink {
  constructor(linkId) { Object.assign(this, { linkId, isOpen: true, closed: false, sent: [] }); }
  send(frame) { this.sent.push(frame); }
  close() { this.closed = true; this.isOpen = false; }
}

test('the constants are the shared ones', () => {
  for (const [name, value] of Object.entries(CASES.constants)) assert.equal(meshModule[name], value, name);
});

for (const c of CASES.cases) {
  test(c.name, () => {
    const delivered = [];
    const mesh = new meshModule.Mesh({
      selfId: 'a', members: () => ['a', 'b'], signal: () => {}, deliver: (from, env) => delivered.push(env.d),
      config: () => ({}), changed: () => {}, log: () => {},
      createLink: () => { throw new Error('"a" < "b": b makes the link'); },
    });
    mesh.configure({ topology: 'mesh', meshMaxPeers: 8 });
    const pair = mesh.pairs.get('b');
    assert.equal(pair.link, null);
    const link = new FakeLink('L');
    pair.link = link;
    c.steps.forEach((step, i) => {
      if (step.signal) mesh.onSignal('b', step.signal);
      else mesh.onFrame(pair, link, 'raw' in step ? step.raw : JSON.stringify(step.frame));
      const checkpoint = c.delivered_after_step?.[String(i)];
      if (checkpoint) assert.deepEqual(delivered, checkpoint, `after step ${i}`);
    });
    assert.deepEqual(delivered, c.delivered);
    assert.equal(link.closed, c.link_closed ?? false);
    clearTimeout(pair.ackTimer);
  });
}
