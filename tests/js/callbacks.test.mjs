// Missed calls followed up, in Chromium against the real server: the phone system reports a call that
// waited for a free agent and was given up on; it becomes a callback task on the agent's Calls screen
// at once, a second missed call from the same number joins it, and the agent closes it with an outcome.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { Switchboard, launchChromium, signIn } from './harness.mjs';

const sb = new Switchboard();
let admin;
let pbx;
let browser;
let lan;
let lanAgent;

before(async () => {
  pbx = sb.cli('tokens', 'add', '--pbx', 'pbx');
  await sb.startServe();
  admin = await sb.login();
  const user = await sb.api('POST', '/api/users', admin, { username: 'lan', display_name: 'Nguyễn Thị Lan', role: 'agent', password: 'lan password 123' });
  assert.equal(user.status, 200, JSON.stringify(user.body));
  const agent = await sb.cc('POST', '/api/agents', admin, { userId: user.body.data.id, extension: '101' });
  assert.equal(agent.status, 200, JSON.stringify(agent.body));
  lanAgent = agent.body.data;
  const customer = await sb.cc('POST', '/api/customers', admin, { fullName: 'Trần Văn Gọi', phoneNumber: '0912 345 678' });
  assert.equal(customer.status, 200, JSON.stringify(customer.body));
  browser = await launchChromium(chromium);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  lan = await signIn(context, sb.callcenter, 'lan', 'lan password 123');
  await lan.getByRole('link', { name: /Cuộc gọi/ }).click();
  await lan.getByTestId('callbacks').getByText('Không có cuộc gọi nhỡ nào cần gọi lại').waitFor();
});

after(async () => {
  await browser?.close();
  await sb.stop();
});

async function missedCall(callId, from) {
  // Lan is offline: the caller waits in the queue, then hangs up.
  for (const fields of [
    { event: 'newCall', callId, from, to: '1900 6868', direction: 'in' },
    { event: 'hangup', callId, cause: 'cancel' },
  ]) {
    const answer = await sb.cti(pbx, fields);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
}

test('a missed call becomes a callback on the agent\'s screen at once, a repeat joins it, and the agent closes it with an outcome', async () => {
  await missedCall('missed-1', '0912 345 678');
  const task = lan.getByTestId('callbacks').locator('[data-callback]', { hasText: '0912 345 678' });
  await task.getByText('Trần Văn Gọi').waitFor();
  await task.getByText('Gọi nhỡ 1 lần').waitFor();
  await task.getByText('Giao cho').waitFor();

  await missedCall('missed-2', '+84912345678');
  await task.getByText('Gọi nhỡ 2 lần').waitFor();
  assert.equal(await lan.getByTestId('callbacks').locator('[data-callback]').count(), 1, 'one task per caller');

  await task.getByLabel('Kết quả').selectOption('no_answer');
  await task.getByLabel('Ghi chú').fill('Gọi 2 lần không nghe, nhắn Zalo');
  await task.getByRole('button', { name: 'Đóng việc' }).click();
  await task.waitFor({ state: 'detached' });
  const closed = await sb.cc('GET', '/api/callbacks?status=closed', admin);
  assert.deepEqual(
    closed.body.data.map((c) => [c.callId, c.missedCalls, c.outcome, c.note, c.assignedAgentId]),
    [['missed-1', 2, 'no_answer', 'Gọi 2 lần không nghe, nhắn Zalo', lanAgent.id]],
  );
});

test('the call log downloads as a CSV file for spreadsheets', async () => {
  const [download] = await Promise.all([lan.waitForEvent('download'), lan.getByRole('button', { name: 'Tải CSV' }).click()]);
  assert.equal(download.suggestedFilename(), 'cuoc-goi.csv');
  const bytes = readFileSync(await download.path());
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const lines = bytes.subarray(3).toString('utf8').split('\r\n').filter(Boolean);
  assert.match(lines[0], /^callId,direction,callerNumber,/);
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ['missed-2', 'missed-1']);
});
