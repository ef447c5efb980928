// Acting on the phone system from the console, in Chromium against the real server and a fake PBX that
// speaks the documented webhook: an agent calls a customer with one click (the PBX gets a signed `dial`
// and reports the outbound call back), transfers a call in progress to a colleague (the PBX gets a
// `transfer` and reports the colleague's answer), and is told when the PBX refuses a command, which a
// supervisor then finds on the live floor.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';
import { ADMIN_PASSWORD, Switchboard, launchChromium, signIn } from './harness.mjs';

const sb = new Switchboard();
const SECRET = 'pbx webhook secret';
let admin;
let pbx;
let browser;
let lan;
let minhAgent;
let lanAgent;
let pbxServer;
/** What the fake PBX received, and the answers it gives next (status, body), then 200. */
const received = [];
const answers = [];
const waiters = [];

function startFakePbx() {
  pbxServer = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(raw).digest('hex');
      received.push({ body: JSON.parse(raw.toString('utf8')), signed: request.headers['x-switchboard-signature'] === expected });
      for (const waiter of waiters.splice(0)) waiter();
      const [status, text] = answers.shift() ?? [200, 'ok'];
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(text);
    });
  });
  return new Promise((resolve) => pbxServer.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${pbxServer.address().port}/pbx`)));
}

/** The first command the fake PBX received with `event`, waiting for it (at most 10 s). */
async function command(event) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const found = received.find((c) => c.body.event === event);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`the PBX got no ${event}: ${JSON.stringify(received)}`);
    await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, deadline - Date.now()); });
  }
}

async function cti(fields) {
  const answer = await sb.cti(pbx, fields);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

before(async () => {
  const url = await startFakePbx();
  pbx = sb.cli('tokens', 'add', '--pbx', 'pbx');
  await sb.startServe(['--webhook-url', url, '--webhook-secret', SECRET]);
  admin = await sb.login();
  for (const [username, display_name, extension] of [['lan', 'Nguyễn Thị Lan', '101'], ['minh', 'Trần Văn Minh', '102']]) {
    const user = await sb.api('POST', '/api/users', admin, { username, display_name, role: 'agent', password: `${username} password 123` });
    assert.equal(user.status, 200, JSON.stringify(user.body));
    const agent = await sb.cc('POST', '/api/agents', admin, { userId: user.body.data.id, extension });
    assert.equal(agent.status, 200, JSON.stringify(agent.body));
    if (username === 'minh') minhAgent = agent.body.data;
    else lanAgent = agent.body.data;
  }
  const minhStatus = await sb.cc('PUT', `/api/agents/${minhAgent.id}/status`, admin, { status: 'available' });
  assert.equal(minhStatus.status, 200);
  const customer = await sb.cc('POST', '/api/customers', admin, { fullName: 'Phạm Thu Hà', phoneNumber: '0912 345 678' });
  assert.equal(customer.status, 200, JSON.stringify(customer.body));
  browser = await launchChromium(chromium);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  lan = await signIn(context, sb.callcenter, 'lan', 'lan password 123');
  await lan.getByTestId('my-status').selectOption('available');
});

after(async () => {
  await browser?.close();
  await sb.stop();
  pbxServer?.close();
});

test('one click calls a customer through the phone system, and the call shows as outbound', async () => {
  await lan.getByRole('link', { name: 'Khách hàng' }).click();
  await lan.getByText('Phạm Thu Hà').first().click();
  await lan.getByRole('button', { name: 'Gọi +84912345678 qua tổng đài' }).click();
  await lan.getByText('Tổng đài đang gọi +84912345678').waitFor();
  const dial = await command('dial');
  assert.ok(dial.signed, 'signed with the shared secret');
  assert.deepEqual([dial.body.number, dial.body.extension, typeof dial.body.commandId], ['+84912345678', '101', 'number']);

  // The PBX rings Lan's phone, then the customer, and reports the call.
  await cti({ event: 'newCall', callId: 'out-1', from: '101', to: '0912345678', direction: 'out' });
  await lan.getByRole('link', { name: /Cuộc gọi/ }).click();
  const row = lan.getByTestId('call-log').locator('[data-call="out-1"]');
  await row.waitFor();
  await cti({ event: 'hangup', callId: 'out-1', cause: 'normalClearing' });
});

test('an agent transfers a call in progress to a colleague, and the phone system moves it', async () => {
  await cti({ event: 'newCall', callId: 'in-1', from: '0987 000 111', to: '1900 6868', direction: 'in' });
  await cti({ event: 'answer', callId: 'in-1', answeringNumber: '101' });
  const bar = lan.getByTestId('active-call');
  await bar.waitFor();
  await bar.getByLabel('Chuyển').selectOption({ label: 'Trần Văn Minh' });
  await lan.getByText('Đang chuyển cuộc gọi qua tổng đài').waitFor();
  const transfer = await command('transfer');
  assert.deepEqual([transfer.body.callId, transfer.body.extension, transfer.body.toExtension], ['in-1', '101', '102']);

  await cti({ event: 'answer', callId: 'in-1', answeringNumber: '102' });
  await bar.waitFor({ state: 'detached' });
  const call = await sb.cc('GET', '/api/calls/in-1', admin);
  assert.deepEqual([call.body.data.answeredBy, call.body.data.transferredFrom], [minhAgent.id, lanAgent.id]);
  await cti({ event: 'hangup', callId: 'in-1', cause: 'normalClearing' });
});

test('a command the phone system refuses is shown to the agent with its answer', async () => {
  answers.push([404, 'extension 101 is not registered']);
  await lan.getByTestId('call-log').locator('[data-call="in-1"]').getByRole('button', { name: /Gọi .* qua tổng đài/ }).click();
  await lan.getByText('Tổng đài không thực hiện lệnh gọi đi: 404 Not Found: extension 101 is not registered').waitFor();
});

test('a supervisor finds the refused command on the live floor, with the agent and the answer', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  const supervisor = await signIn(context, sb.callcenter, 'admin', ADMIN_PASSWORD);
  await supervisor.getByRole('link', { name: 'Giám sát' }).click();
  const failed = supervisor.getByTestId('floor-failed-commands');
  const row = failed.locator('tr[data-command]').filter({ hasText: 'extension 101 is not registered' });
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  assert.deepEqual(cells.slice(1, 4), ['Nguyễn Thị Lan', 'gọi đi', ''], 'a dial is not about a call yet');
  assert.equal(cells[4], '404 Not Found: extension 101 is not registered');
  await context.close();
});
