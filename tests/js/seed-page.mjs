// The second seed's example page (fixtures/, verbatim from the guide: CRMCallIntegration on
// socket.io-client 4.0.0, served locally in place of the CDN, polling first) in Debian's Chromium:
// it pops up a call, answers it, closes it on hangup, and rejects a second one. Run against one node
// (callcenter.test.mjs) and against HAProxy in front of two nodes (cluster.test.mjs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { launchChromium } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const SOCKET_IO_4_0_0 = readFileSync(
  path.join(path.dirname(require.resolve('socket.io-client-4.0.0/package.json')), 'dist/socket.io.min.js'),
);

/**
 * What the seed's example payload shows: the admin working as the available agent "Admin User", and
 * the customer Nguyễn Văn A at 0912345678. `cc(method, path, body)` is a call-center REST call as the
 * admin, resolving with `{status, body}`. Resolves with the agent.
 */
export async function agentAndCustomer(cc) {
  const created = await cc('POST', '/api/agents', { userId: 1, fullName: 'Admin User', extension: '100' });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const agent = created.body.data;
  const available = await cc('PUT', `/api/agents/${agent.id}/status`, { status: 'available' });
  assert.equal(available.status, 200);
  const customer = await cc('POST', '/api/customers', {
    fullName: 'Nguyễn Văn A', phoneNumber: '0912345678', email: 'nguyenvana@email.com', cif: 'CIF001230022',
  });
  assert.equal(customer.status, 200);
  return agent;
}

/**
 * The page at `callcenter` (a node or the balancer) with the admin's session `admin`, working as
 * `agent`. `cti(fields)` posts the phone system's events, `call(callId)` reads a call's record; both
 * resolve with `{status, body}`. With `pollingOnly`, the page's WebSocket upgrade is refused, so every
 * packet rides on long-polling requests (what a balancer must keep on one node). Resolves with the
 * names of the cookies the browser holds at the end and the number of long-polling requests made.
 */
export async function seedPageAnswersAndRejects({ callcenter, admin, agent, cti, call, pollingOnly = false }) {
  const browser = await launchChromium(chromium);
  try {
    const context = await browser.newContext();
    const origin = new URL(callcenter);
    // The console's login cookie, so the page's own fetch('/api/agents/available') is authorised.
    await context.addCookies([{ name: 'switchboard_session', value: admin, domain: origin.hostname, path: '/' }]);
    const page = await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
    let polls = 0;
    page.on('request', (request) => {
      if (request.url().includes('transport=polling')) polls += 1;
    });
    if (pollingOnly) await page.routeWebSocket(/\/socket\.io\//, (socket) => socket.close());

    const html = readFileSync(path.join(here, 'fixtures/crm-example.html'), 'utf8')
      .replace("serverUrl: 'http://localhost:8000'", `serverUrl: ${JSON.stringify(`${callcenter}?token=${admin}`)}`)
      .replace('</head>', '    <script src="/crm-call-integration.js"></script>\n</head>');
    const integration = readFileSync(path.join(here, 'fixtures/crm-call-integration.js'), 'utf8');
    await page.route('https://cdn.socket.io/4.0.0/socket.io.min.js', (route) =>
      route.fulfill({ contentType: 'application/javascript', body: SOCKET_IO_4_0_0 }));
    await page.route(`${callcenter}/crm.html`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
    await page.route(`${callcenter}/crm-call-integration.js`, (route) =>
      route.fulfill({ contentType: 'application/javascript', body: integration }));

    await page.goto(`${callcenter}/crm.html`);
    await page.waitForFunction(() => document.getElementById('connectionStatus').textContent.includes('Connected'));
    // The page loaded the agents with its own fetch.
    await page.waitForFunction(() => document.getElementById('agentsContainer').textContent.includes('Admin User'));

    const posted = await cti({ event: 'newCall', from: '0912345678', to: '1900', direction: 'in', callId: 'PAGE_1' });
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
    const log = await call('PAGE_1');
    assert.equal(log.body.data.status, 'connected');
    assert.equal(log.body.data.answeredBy, agent.id);

    const ended = await cti({ event: 'hangup', callId: 'PAGE_1', cause: 'normalClearing' });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    await page.waitForFunction(() => document.getElementById('logContainer').textContent.includes('Call PAGE_1 ended'));

    // A second call, rejected from the page: the call ends as `crm_user_reject`.
    await cti({ event: 'newCall', from: '0987000111', to: '1900', direction: 'in', callId: 'PAGE_2' });
    await page.waitForSelector('#incomingCallModal', { state: 'visible' });
    assert.match(await page.textContent('#customerInfo'), /New customer - No data in CRM/);
    await page.click('text=Reject');
    await page.waitForSelector('#incomingCallModal', { state: 'hidden' });
    const rejected = await call('PAGE_2');
    assert.deepEqual([rejected.body.data.status, rejected.body.data.endReason, rejected.body.data.missed], ['ended', 'crm_user_reject', true]);
    assert.ok(!logs.some((l) => l.startsWith('page error')), logs.join('\n'));
    // One Socket.IO session all along: its polling requests never reached a node that did not know it.
    assert.equal(logs.filter((l) => l.includes('CRM connected to call system')).length, 1, logs.join('\n'));
    return { cookies: (await context.cookies()).map((cookie) => cookie.name), polls };
  } finally {
    await browser.close();
  }
}
