// The second seed's example page (socket.io-client 4.0.0, polling first) through HAProxy, with the
// shipped deploy/haproxy.cfg, in front of two nodes on one PostgreSQL database: the page's Socket.IO
// session stays on one node while the phone system's events arrive on either. Only with a PostgreSQL
// server (SWITCHBOARD_TEST_POSTGRES, which scripts/test passes); skipped otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Switchboard, scratchSchema, startHaproxy } from './harness.mjs';
import { agentAndCustomer, seedPageAnswersAndRejects } from './seed-page.mjs';

const server = process.env.SWITCHBOARD_TEST_POSTGRES;
const skip = server ? false : 'needs PostgreSQL (SWITCHBOARD_TEST_POSTGRES is not set)';

let schema;
let nodes = [];
let balancer;
let admin;
let pbx;
let agent;

before(async () => {
  if (skip) return;
  schema = scratchSchema(server);
  const first = new Switchboard({ databaseUrl: schema.url });
  nodes = [first, new Switchboard({ databaseUrl: schema.url, keyOf: first })];
  pbx = first.cli('tokens', 'add', '--pbx', 'pbx');
  // One after the other: the first start creates the admin and the key.
  for (const node of nodes) await node.startServe(['--ring-timeout-seconds', '30']);
  balancer = await startHaproxy(nodes, first.dir);
  admin = await first.login();
  const cc = async (method, path, body) => {
    const response = await fetch(`${balancer.callcenter}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  agent = await agentAndCustomer(cc);
});

after(async () => {
  await balancer?.stop();
  for (const node of nodes) await node.stop();
  schema?.drop();
});

test("the seed's example page works through HAProxy in front of two nodes on PostgreSQL (Chromium)", { skip }, async () => {
  // The phone system's events alternate between the nodes, so whichever node holds the page's
  // session, some of what it shows was accepted by the other. The page stays on long-polling: each of
  // its requests must reach the node that holds its session (HAProxy's cookie).
  let posted = 0;
  const { cookies, polls } = await seedPageAnswersAndRejects({
    pollingOnly: true,
    callcenter: balancer.callcenter,
    admin,
    agent,
    cti: (fields) => nodes[posted++ % nodes.length].cti(pbx, fields),
    call: (callId) => nodes[1].cc('GET', `/api/calls/${callId}`, admin),
  });
  assert.ok(posted >= 3);
  assert.ok(cookies.includes('SB_CALLCENTER'), `HAProxy's cookie: ${cookies}`);
  // Every packet of the session went through HAProxy on long-polling requests, all to its node.
  assert.ok(polls >= 6, `${polls} long-polling requests`);
});
