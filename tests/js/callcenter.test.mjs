// The call center with the seed's own client code: the official socket.io-client (4.8.1), and the
// seed's CRMCallIntegration class and example page (fixtures/, verbatim from the guide) running in
// Debian's Chromium, driven by playwright-core, on socket.io-client 4.0.0 served locally in place of
// the CDN. Only the page's server URL is changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { io } from 'socket.io-client';
import { chromium } from 'playwright-core';
import { Switchboard, launchChromium } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const SOCKET_IO_4_0_0 = readFileSync(
  path.join(path.dirname(require.resolve('socket.io-client-4.0.0/package.json')), 'dist/socket.io.min.js'),
);

const sb = new Switchboard();
let admin; // the admin's session token: the console's cookie and the seed client's ?token=
let pbx; // an API token for the CTI webhook
let agent; // the admin works as an agent: "Admin User", as in the seed's example payload

before(async () => {
  pbx = sb.apiToken('pbx');
  await sb.startServe(['--ring-timeout-seconds', '30']);
  admin = await sb.login();
  const created = await sb.cc('POST', '/api/agents', admin, { userId: 1, fullName: 'Admin User', extension: '100' });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  agent = created.body.data;
  const available = await sb.cc('PUT', `/api/agents/${agent.id}/status`, admin, { status: 'available' });
  assert.equal(available.status, 200);
  const customer = await sb.cc('POST', '/api/customers', admin, {
    fullName: 'Nguyễn Văn A', phoneNumber: '0912345678', email: 'nguyenvana@email.com', cif: 'CIF001230022',
  });
  assert.equal(customer.status, 200);
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

test("the seed's example page pops up the call, answers it, and closes it on hangup (Chromium)", async () => {
  const browser = await launchChromium(chromium);
  try {
    const context = await browser.newContext();
    const origin = new URL(sb.callcenter);
    // The console's login cookie, so the page's own fetch('/api/agents/available') is authorised.
    await context.addCookies([{ name: 'switchboard_session', value: admin, domain: origin.hostname, path: '/' }]);
    const page = await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));

    const html = readFileSync(path.join(here, 'fixtures/crm-example.html'), 'utf8')
      .replace("serverUrl: 'http://localhost:8000'", `serverUrl: ${JSON.stringify(`${sb.callcenter}?token=${admin}`)}`)
      .replace('</head>', '    <script src="/crm-call-integration.js"></script>\n</head>');
    const integration = readFileSync(path.join(here, 'fixtures/crm-call-integration.js'), 'utf8');
    await page.route('https://cdn.socket.io/4.0.0/socket.io.min.js', (route) =>
      route.fulfill({ contentType: 'application/javascript', body: SOCKET_IO_4_0_0 }));
    await page.route(`${sb.callcenter}/crm.html`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
    await page.route(`${sb.callcenter}/crm-call-integration.js`, (route) =>
      route.fulfill({ contentType: 'application/javascript', body: integration }));

    await page.goto(`${sb.callcenter}/crm.html`);
    await page.waitForFunction(() => document.getElementById('connectionStatus').textContent.includes('Connected'));
    // The page loaded the agents with its own fetch.
    await page.waitForFunction(() => document.getElementById('agentsContainer').textContent.includes('Admin User'));

    const posted = await sb.cti(pbx, { event: 'newCall', from: '0912345678', to: '1900', direction: 'in', callId: 'PAGE_1' });
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    await page.waitForSelector('#incomingCallModal', { state: 'visible' });
    assert.equal(await page.textContent('#callerNumber'), '0912345678');
    assert.equal(await page.textContent('#callId'), 'PAGE_1');
    assert.equal(await page.textContent('#assignedAgent'), 'Admin User');
    assert.match(await page.textContent('#customerInfo'), /Nguyễn Văn A[\s\S]*nguyenvana@email\.com[\s\S]*CIF001230022/);
    // The page pre-selects the assigned agent once the available agents are loaded.
    await page.waitForFunction((id) => document.getElementById('agentSelect').value === String(id), agent.id);

    await page.click('text=Answer');
    await page.waitForSelector('#incomingCallModal', { state: 'hidden' });
    await page.waitForFunction(() => document.getElementById('logContainer').textContent.includes('Call PAGE_1 answered'));
    const log = await sb.cc('GET', '/api/calls/PAGE_1', admin);
    assert.equal(log.body.data.status, 'connected');
    assert.equal(log.body.data.answeredBy, agent.id);

    await hangup('PAGE_1');
    await page.waitForFunction(() => document.getElementById('logContainer').textContent.includes('Call PAGE_1 ended'));

    // A second call, rejected from the page: the call ends as `crm_user_reject`.
    await sb.cti(pbx, { event: 'newCall', from: '0987000111', to: '1900', direction: 'in', callId: 'PAGE_2' });
    await page.waitForSelector('#incomingCallModal', { state: 'visible' });
    assert.match(await page.textContent('#customerInfo'), /New customer - No data in CRM/);
    await page.click('text=Reject');
    await page.waitForSelector('#incomingCallModal', { state: 'hidden' });
    const rejected = await sb.cc('GET', '/api/calls/PAGE_2', admin);
    assert.deepEqual([rejected.body.data.status, rejected.body.data.endReason, rejected.body.data.missed], ['ended', 'crm_user_reject', true]);
    assert.ok(!logs.some((l) => l.startsWith('page error')), logs.join('\n'));
  } finally {
    await browser.close();
  }
});
