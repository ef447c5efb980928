// The supervisor's live floor and reports, in Chromium against the real server: a supervisor watches
// calls arrive, be answered and wait; sees the service level fall while a caller is left waiting; an
// agent takes the waiting call from her Calls screen and records what came of it; an agent who lets
// calls ring out is set away and the supervisor is told; the supervisor opens today's report and
// downloads it as CSV.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Switchboard, launchChromium, signIn } from './harness.mjs';

// `SCREENSHOTS_DIR=docs/screenshots` refreshes the README's pictures of the floor and the reports.
const SHOTS = process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : mkdtempSync(path.join(tmpdir(), 'switchboard-screens-'));
const sb = new Switchboard();
let admin;
let pbx;
let browser;
let mai;
let lan;
let lanAgent;

async function cti(fields) {
  const answer = await sb.cti(pbx, fields);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

before(async () => {
  pbx = sb.cli('tokens', 'add', '--pbx', 'pbx');
  // A caller counts against the service level after 2 s; an offer rings 3 s; two ring-outs in a row
  // set an agent away.
  await sb.startServe(['--service-level-seconds', '2', '--ring-timeout-seconds', '3', '--max-no-answer', '2']);
  admin = await sb.login();
  for (const [username, display_name, role] of [['mai', 'Lê Thị Mai', 'supervisor'], ['lan', 'Nguyễn Thị Lan', 'agent']]) {
    const user = await sb.api('POST', '/api/users', admin, { username, display_name, role, password: `${username} password 123` });
    assert.equal(user.status, 200, JSON.stringify(user.body));
    if (username === 'lan') {
      const agent = await sb.cc('POST', '/api/agents', admin, { userId: user.body.data.id, extension: '101', queues: ['sales'] });
      assert.equal(agent.status, 200, JSON.stringify(agent.body));
      lanAgent = agent.body.data;
    }
  }
  const code = await sb.cc('POST', '/api/call-outcomes', admin, { code: 'sale', label: 'Chốt đơn' });
  assert.equal(code.status, 200, JSON.stringify(code.body));
  // Billing's only agent is away: billing callers wait.
  const hung = await sb.cc('POST', '/api/agents', admin, { fullName: 'Phạm Văn Hùng', extension: '102', queues: ['billing'] });
  assert.equal(hung.status, 200, JSON.stringify(hung.body));
  browser = await launchChromium(chromium);
  const options = { viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', acceptDownloads: true };
  mai = await signIn(await browser.newContext(options), sb.callcenter, 'mai', 'mai password 123');
  lan = await signIn(await browser.newContext(options), sb.callcenter, 'lan', 'lan password 123');
  await lan.getByTestId('my-status').selectOption('available');
  await mai.getByRole('link', { name: 'Giám sát' }).click();
  await mai.getByTestId('floor').locator(`[data-agent="${lanAgent.id}"][data-status="available"]`).waitFor();
});

after(async () => {
  await browser?.close();
  await sb.stop();
});

test('agents see neither the floor nor the reports', async () => {
  assert.equal(await lan.getByRole('link', { name: 'Giám sát' }).count(), 0);
  assert.equal(await lan.getByRole('link', { name: 'Báo cáo' }).count(), 0);
  const refused = await sb.cc('GET', '/api/floor', (await sb.login('lan', 'lan password 123')));
  assert.equal(refused.status, 403);
});

test('the supervisor watches calls live, sees the service level fall while a caller waits, and an agent takes that call', async () => {
  const floor = mai.getByTestId('floor');
  const serviceLevel = floor.getByTestId('floor.serviceLevel');
  assert.equal(await serviceLevel.textContent(), '—', 'no call yet, nothing to measure');

  // A sales call rings at Lan and she answers at once: within the service level.
  await cti({ event: 'newCall', callId: 'sales-1', from: '0912 000 111', to: '1900 6868', direction: 'in', queue: 'sales' });
  await cti({ event: 'answer', callId: 'sales-1', answeringNumber: '101' });
  await floor.getByTestId('floor-connected').locator('[data-call="sales-1"]', { hasText: 'Nguyễn Thị Lan' }).waitFor();
  await floor.locator(`[data-agent="${lanAgent.id}"][data-state="on_call"]`).waitFor();
  await serviceLevel.getByText('100%').waitFor();

  // A billing call: billing's agent is away, so the caller waits, and past 2 s the level falls to 50%.
  await cti({ event: 'newCall', callId: 'billing-1', from: '0912 000 222', to: '1900 6868', direction: 'in', queue: 'billing' });
  await floor.getByTestId('floor-waiting').locator('[data-call="billing-1"]', { hasText: 'đang xếp hàng' }).waitFor();
  await floor.getByTestId('floor.waiting').getByText('1').waitFor();
  await serviceLevel.getByText('50%').waitFor({ timeout: 20000 });
  await mai.screenshot({ path: path.join(SHOTS, 'floor.png') });

  // Lan hangs up, sees the billing caller waiting on her Calls screen, and takes the call.
  await cti({ event: 'hangup', callId: 'sales-1', cause: 'normalClearing' });
  await lan.getByRole('link', { name: /Cuộc gọi/ }).click();
  const waiting = lan.getByTestId('waiting-calls').locator('[data-call="billing-1"]');
  await waiting.getByRole('button', { name: 'Nhận cuộc gọi' }).click();
  await waiting.waitFor({ state: 'detached' });
  await floor.getByTestId('floor-connected').locator('[data-call="billing-1"]', { hasText: 'Nguyễn Thị Lan' }).waitFor();
  await floor.getByTestId('floor-waiting').getByText('Không có khách nào đang chờ').waitFor();
  await cti({ event: 'hangup', callId: 'billing-1', cause: 'normalClearing', recordingUrl: 'https://pbx.example.vn/rec/billing-1.mp3' });
  await floor.locator(`[data-agent="${lanAgent.id}"][data-state="idle"]`).waitFor();
});

test('after the call the agent records its outcome and a note, and the recording is in the log', async () => {
  const row = lan.getByTestId('call-log').locator('[data-call="billing-1"]');
  assert.equal(await row.locator('audio').getAttribute('src'), 'https://pbx.example.vn/rec/billing-1.mp3');
  await row.getByLabel('Kết quả').selectOption('sale');
  await row.getByLabel('Ghi chú cho lịch sử khách hàng').fill('Khách đặt 2 bó hoa, giao thứ Bảy');
  await row.getByRole('button', { name: 'Lưu' }).click();
  await row.getByTestId('outcome').getByText('Chốt đơn').waitFor();
  await row.getByTestId('outcome').getByText('Khách đặt 2 bó hoa, giao thứ Bảy').waitFor();
  const call = await sb.cc('GET', '/api/calls/billing-1', admin);
  assert.deepEqual([call.body.data.outcome, call.body.data.outcomeNote], ['sale', 'Khách đặt 2 bó hoa, giao thứ Bảy']);
});

test('an agent who lets two calls in a row ring out is set away, and the supervisor is told', async () => {
  await cti({ event: 'newCall', callId: 'sales-2', from: '0912 000 333', to: '1900 6868', direction: 'in', queue: 'sales' });
  await mai.getByText('Nguyễn Thị Lan đã được chuyển sang Vắng mặt vì để lỡ 2 cuộc gọi liên tiếp').waitFor({ timeout: 20000 });
  await mai.getByTestId('floor').locator(`[data-agent="${lanAgent.id}"][data-status="away"]`).waitFor();
  await cti({ event: 'hangup', callId: 'sales-2', cause: 'cancel' });
});

test('the supervisor reads today\'s report by agent and downloads it as CSV', async () => {
  await mai.getByRole('link', { name: 'Báo cáo' }).click();
  const reports = mai.getByTestId('reports');
  await reports.getByTestId('report-period').getByText('Asia/Ho_Chi_Minh').waitFor();
  await reports.getByTestId('total-floor.offered').getByText('3').waitFor();
  await reports.getByTestId('total-floor.answered').getByText('2').waitFor();
  await reports.getByTestId('total-floor.abandoned').getByText('1').waitFor();
  assert.ok(await reports.locator('svg[role="img"] [data-bar]').count() >= 7, 'a bar for each of the last seven days');
  await reports.getByTestId('chat-report').getByText('Không có hội thoại nào trong khoảng này').waitFor();

  await reports.getByLabel('Theo', { exact: true }).selectOption('agent');
  const row = reports.getByTestId('report-table').locator(`[data-group="${lanAgent.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /Nguyễn Thị Lan/);
  await reports.getByLabel('Theo', { exact: true }).selectOption('day');
  await reports.getByTestId('report-table').locator('[data-group="total"]').waitFor();
  await mai.screenshot({ path: path.join(SHOTS, 'reports.png') });
  await reports.getByLabel('Theo', { exact: true }).selectOption('agent');
  await row.waitFor();

  const [download] = await Promise.all([mai.waitForEvent('download'), reports.getByRole('button', { name: 'Tải báo cáo CSV' }).click()]);
  assert.match(download.suggestedFilename(), /^bao-cao-cuoc-goi-agent-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
  const text = readFileSync(await download.path()).subarray(3).toString('utf8');
  const lines = text.split('\r\n').filter(Boolean);
  assert.match(lines[0], /^key,label,offered,answered,abandoned,shortAbandoned,averageSpeedOfAnswer,serviceLevel/);
  assert.ok(lines.some((l) => l.startsWith(`${lanAgent.id},Nguyễn Thị Lan,`)), text);
  assert.match(lines.at(-1), /^total,,3,2,1,/);
});
