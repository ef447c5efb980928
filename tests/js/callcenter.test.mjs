// The call center with the seed's own client code: the official socket.io-client (4.8.1), and the
// seed's CRMCallIntegration class and example page (fixtures/, verbatim from the guide) running in
// Debian's Chromium, driven by playwright-core, on socket.io-client 4.0.0 served locally in place of
// the CDN (seed-page.mjs). Only the page's server URL is changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { Switchboard } from './harness.mjs';
import { agentAndCustomer, seedPageAnswersAndRejects } from './seed-page.mjs';

const sb = new Switchboard();
let admin; // the admin's session token: the console's cookie and the seed client's ?token=
let pbx; // an API token for the CTI webhook
let agent; // the admin works as an agent: "Admin User", as in the seed's example payload

before(async () => {
  pbx = sb.apiToken('pbx');
  await sb.startServe(['--ring-timeout-seconds', '30']);
  admin = await sb.login();
  agent = await agentAndCustomer((method, path, body) => sb.cc(method, path, admin, body));
});
after(() => sb.stop());

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (payload) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

async function hangup(callId) {
  const ended = await sb.cti(pbx, { event: 'hangup', callId, cause: 'normalClearing' });
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
}

test('the official client joins, gets the popup, answers, and sees the call end', async () => {
  // The seed's client puts the token on the URL; nothing else changes.
  const socket = io(`${sb.callcenter}?token=${admin}`, { reconnection: false, forceNew: true });
  try {
    await once(socket, 'connect');
    const joined = once(socket, 'joined_call_center');
    socket.emit('join_call_center', { userType: 'crm_system', userId: 'crm_main', clientInfo: { platform: 'web' } });
    assert.deepEqual(await joined, { message: 'Joined call center as CRM system', userType: 'crm_system' });

    const incoming = once(socket, 'incoming_call_to_crm');
    const posted = await sb.cti(pbx, { event: 'newCall', from: '0912 345 678', to: '1900', direction: 'in', callId: 'JS_1' });
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const call = await incoming;
    assert.equal(call.callId, 'JS_1');
    assert.equal(call.status, 'ringing');
    assert.equal(call.assignedAgent.fullName, 'Admin User');
    assert.equal(call.customerInfo.cif, 'CIF001230022');

    const answered = once(socket, 'call_answered');
    socket.emit('answer_call', { callId: 'JS_1', agentId: agent.id, source: 'crm_system' });
    const body = await answered;
    assert.equal(body.call.status, 'connected');
    assert.equal(body.message, 'Cuộc gọi đã được kết nối');

    const error = once(socket, 'error');
    socket.emit('answer_call', { callId: 'JS_1', agentId: agent.id, source: 'crm_system' });
    assert.equal((await error).error.code, 'call_taken');
    assert.ok(socket.connected, 'an error keeps the connection');

    const ended = once(socket, 'call_ended');
    await hangup('JS_1');
    const end = await ended;
    assert.equal(end.callId, 'JS_1');
    assert.equal(typeof end.duration, 'number');
    assert.equal(end.message, 'Cuộc gọi đã kết thúc');
  } finally {
    socket.close();
  }
});

test('a client that asks for English gets English messages', async () => {
  const socket = io(sb.callcenter, { query: { token: admin, lang: 'en' }, reconnection: false, forceNew: true });
  try {
    await once(socket, 'connect');
    socket.emit('join_call_center', { userType: 'crm_system' });
    await once(socket, 'joined_call_center');
    const incoming = once(socket, 'incoming_call_to_crm');
    await sb.cti(pbx, { event: 'newCall', from: '0909000111', to: '1900', direction: 'in', callId: 'JS_EN' });
    await incoming;
    const ended = once(socket, 'call_ended');
    socket.emit('end_call', { callId: 'JS_EN', endReason: 'crm_user_reject', source: 'crm_system' });
    const end = await ended;
    assert.deepEqual([end.endReason, end.message], ['crm_user_reject', 'The call has ended']);
  } finally {
    socket.close();
  }
});

test("the seed's example page pops up the call, answers it, and closes it on hangup (Chromium)", () =>
  seedPageAnswersAndRejects({
    callcenter: sb.callcenter,
    admin,
    agent,
    cti: (fields) => sb.cti(pbx, fields),
    call: (callId) => sb.cc('GET', `/api/calls/${callId}`, admin),
  }));
