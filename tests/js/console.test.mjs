// The web console end to end: the real `switchboard serve` (console embedded, served by the call
// center), a real `sim` bot process, Debian's Chromium driven by playwright-core. Screenshots of the
// main screens are saved (docs/screenshots holds the README's copies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Switchboard, ADMIN_PASSWORD, launchChromium, message } from './harness.mjs';

// `SCREENSHOTS_DIR=docs/screenshots` refreshes the README's pictures; by default they go to a temporary
// directory, so running the tests leaves the repository as it was.
const SHOTS = process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : mkdtempSync(path.join(tmpdir(), 'switchboard-screens-'));
const ACCOUNT = 'page_hoa';
const FAILING = 'page_loi'; // its simulated Facebook refuses every send
const XSS = '<img src=x onerror=alert(1)>';

const sb = new Switchboard();
let admin;
let pbx;
let botToken;
let failingToken;
let browser;
let page;
const dialogs = [];

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

function startBot(account = ACCOUNT, token = botToken, sim = ['--sim-messages-per-minute', '20', '--sim-customers', '6', '--sim-reply-seconds', '2']) {
  sb.spawnSide(
    [
      // Comments have their own tests (comments.test.mjs): these conversations are Messenger's.
      'bot', account, '--driver', 'sim', '--sim-comments-per-minute', '0', ...sim,
      '--receiver-url', sb.url, '--sender-url', sb.sender,
      '--state-dir', path.join(sb.dir, 'bots'),
      '--max-backoff-seconds', '1',
    ],
    { SWITCHBOARD_BOT_TOKEN: token, SWITCHBOARD_LOG: 'warn' },
  );
}

/** A message as the bot pushes it, straight to the receiver. */
async function push(thread, name, text, account = ACCOUNT, token = botToken, extra = {}) {
  const answer = await sb.post('/api/bot/new_messages', token, {
    user_id_chat: account,
    messages: [message(`m_${thread}_${Date.now()}_${Math.random()}`, thread, text, { name, ...extra })],
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

before(async () => {
  botToken = sb.cli('bots', 'add', ACCOUNT, '--name', 'Shop Hoa Xinh');
  failingToken = sb.cli('bots', 'add', FAILING, '--name', 'Shop Lỗi Gửi');
  pbx = sb.apiToken('pbx');
  await sb.startServe(['--ring-timeout-seconds', '60']);
  admin = await sb.login();
  const agent = await sb.cc('POST', '/api/agents', admin, { userId: 1, fullName: 'Quản trị viên', extension: '100' });
  assert.equal(agent.status, 200, JSON.stringify(agent.body));
  for (const [name, ext] of [['Nguyễn Thị Lan', '101'], ['Trần Văn Minh', '102']]) {
    const other = await sb.cc('POST', '/api/agents', admin, { fullName: name, extension: ext });
    assert.equal(other.status, 200);
  }
  const customer = await sb.cc('POST', '/api/customers', admin, {
    fullName: 'Phạm Thị Hương', phoneNumber: '0912345678', email: 'huong@example.vn', cif: 'CIF0042', notes: 'Khách quen, thích áo len',
  });
  assert.equal(customer.status, 200);
  startBot();
  // Only what the tests push: no generated messages, every send refused.
  startBot(FAILING, failingToken, ['--sim-messages-per-minute', '0', '--sim-notifications-per-minute', '0', '--sim-send-failure-rate', '1']);
  browser = await launchChromium(chromium, ['--autoplay-policy=no-user-gesture-required']);
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  await context.grantPermissions(['notifications'], { origin: sb.callcenter });
  // Records browser notifications (Chromium headless has no notification center to look at).
  await context.addInitScript(() => {
    window.__notifications = [];
    const Real = window.Notification;
    class Recorded extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notifications.push({ title, body: options?.body });
      }
    }
    Recorded.requestPermission = Real.requestPermission.bind(Real);
    Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
    window.Notification = Recorded;
  });
  page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => console.error('page error:', error.message));
});

after(async () => {
  await browser?.close();
  await sb.stop();
});

test('the console is served by the call center, with a content security policy', async () => {
  const response = await fetch(`${sb.callcenter}/`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /text\/html/);
  assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await response.text();
  assert.match(html, /<div id="app">/);
  const config = await (await fetch(`${sb.callcenter}/console/config.json`)).json();
  assert.equal(config.sender.port, Number(new URL(sb.sender).port));
});

test('an agent logs in, in Vietnamese, and sees all three links up', async () => {
  await page.goto(`${sb.callcenter}/`);
  // A token an older version kept in localStorage is removed at start, and is no session.
  await page.evaluate(() => localStorage.setItem('switchboard.session', 'sbs_left_by_an_older_version'));
  await page.reload();
  await page.getByRole('heading', { name: 'Switchboard' }).waitFor();
  await page.getByLabel('Tên đăng nhập').fill('admin');
  await page.getByLabel('Mật khẩu').fill('wrong password!');
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.getByRole('alert').filter({ hasText: 'Sai tên đăng nhập hoặc mật khẩu' }).waitFor();
  await page.getByLabel('Mật khẩu').fill(ADMIN_PASSWORD);
  await shot('login');
  const loggedIn = page.waitForResponse((r) => r.url().endsWith('/api/auth/login') && r.status() === 200);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  const session = (await (await loggedIn).json()).data.token;
  assert.match(session, /^sbs_/);
  await page.getByRole('link', { name: /Hộp thư/ }).waitFor();
  // The session is the HttpOnly cookie alone: no script of the page can read its token.
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  assert.ok(!stored.includes(session), `the session token is readable by scripts: ${stored}`);
  assert.ok(!stored.includes('sbs_left_by_an_older_version'), stored);
  for (const link of ['receiver', 'sender', 'callcenter']) {
    await page.locator(`[data-link="${link}"][data-state="up"]`).waitFor({ timeout: 10000 });
  }
  // The agent's own status is at hand: available.
  await page.getByTestId('my-status').selectOption('available');
  await page.waitForFunction(async (url) => {
    const answer = await fetch(`${url}/api/agents/me`, { credentials: 'include' }).then((r) => r.json());
    return answer.data.status === 'available';
  }, sb.callcenter);
  await page.locator(`[data-account="${ACCOUNT}"] [data-bot-status="online"]`).waitFor({ timeout: 15000 });
});

test('a message from a simulated customer appears live, without a reload', async () => {
  await page.evaluate(() => (window.__sameDocument = true));
  const before = await page.locator('[data-conversation]').count();
  const firstPreview = await page.locator('[data-conversation] .preview').first().textContent().catch(() => null);
  // The sim bot writes every few seconds: a new conversation or a new last message shows up by itself.
  await page.waitForFunction(
    ([count, preview]) => {
      const rows = document.querySelectorAll('[data-conversation]');
      const top = document.querySelector('[data-conversation] .preview')?.textContent ?? null;
      return rows.length > count || (rows.length > 0 && top !== preview);
    },
    [before, firstPreview],
    { timeout: 20000 },
  );
  assert.equal(await page.evaluate(() => window.__sameDocument), true);
  await page.locator('[data-conversation]').first().click();
  await page.locator('[data-message]').first().waitFor();
});

let linkedName; // the customer of the conversation linked below, for the call popup

test('the agent replies and sees the message go from queued to sent', async () => {
  const composer = page.getByTestId('composer');
  const reply = `Dạ shop còn hàng ạ, mình gửi ảnh nhé (${Date.now()})`;
  await composer.fill(reply);
  await composer.press('Enter');
  const mine = page.locator('.message.out', { hasText: reply });
  await mine.waitFor();
  await mine.locator('[data-testid="message-status"]', { hasText: 'Đã gửi' }).waitFor({ timeout: 15000 });
  assert.equal(await mine.getAttribute('data-status'), 'sent');
  assert.equal(await composer.inputValue(), '');
  await shot('inbox');
  // The agent links this Facebook conversation to the customer who will call later.
  linkedName = (await page.getByTestId('thread-name').textContent()).trim();
  await page.getByRole('button', { name: 'Gắn với khách hàng' }).click();
  await page.getByPlaceholder('Tìm theo tên hoặc số điện thoại').fill('Hương');
  await page.getByRole('button', { name: 'Tìm', exact: true }).click();
  await page.getByRole('button', { name: 'Phạm Thị Hương' }).click();
  await page.getByRole('button', { name: 'Khách hàng: Phạm Thị Hương' }).waitFor();
  // The link is the customer's, not a guess by name: opening the thread again shows it.
  const linkedId = Number(await page.locator('[data-conversation].active').getAttribute('data-conversation'));
  const linked = await sb.cc('GET', `/api/customers?conversationId=${linkedId}`, admin);
  assert.deepEqual(linked.body.data.map((c) => c.fullName), ['Phạm Thị Hương']);
  await page.goto(`${sb.callcenter}/#/customers`);
  await page.goto(`${sb.callcenter}/#/inbox/${linkedId}`);
  await page.getByRole('button', { name: 'Khách hàng: Phạm Thị Hương' }).waitFor();
});

test('a message with HTML in it is shown as text, never run', async () => {
  await push('t_xss', 'Khách <b>lạ</b>', XSS);
  const row = page.locator('[data-conversation]', { hasText: 'Khách <b>lạ</b>' });
  await row.waitFor({ timeout: 10000 });
  await row.click();
  const message = page.locator('.message.in', { hasText: XSS });
  await message.waitFor();
  assert.equal((await message.locator('.text').textContent()).trim(), XSS);
  assert.equal(await page.locator('[data-testid="messages"] img[src="x"]').count(), 0);
  assert.equal(await page.getByTestId('thread-name').textContent(), 'Khách <b>lạ</b>');
  await page.waitForTimeout(300);
  assert.deepEqual(dialogs, []);
});

test('bidi controls in a name or a message are shown, never obeyed', async () => {
  // U+202E (right-to-left override) would show "abc" as "cba", and the name after it reversed too.
  await push('t_bidi', 'Khách \u202Egnort', 'Xem \u202Eabc nhé');
  const row = page.locator('[data-conversation]', { hasText: 'gnort' });
  await row.waitFor({ timeout: 10000 });
  await row.click();
  const text = page.locator('.message.in .text', { hasText: 'abc' });
  await text.waitFor();
  const shown = await text.evaluate((element) => element.innerText);
  assert.ok(!shown.includes('\u202E'), JSON.stringify(shown));
  assert.match(shown, /\[U\+202E\]abc/);
  const name = await page.getByTestId('thread-name').evaluate((element) => element.innerText);
  assert.ok(!name.includes('\u202E'), JSON.stringify(name));
  const preview = await row.locator('.preview').evaluate((element) => element.innerText);
  assert.ok(!preview.includes('\u202E'), JSON.stringify(preview));
});

test('a long thread shows its newest messages first and older ones on scrolling up, with images inline', async () => {
  // 60 messages an hour ago, one a minute: the thread opens on the newest 50.
  const start = Date.now() - 3600_000;
  const answer = await sb.post('/api/bot/new_messages', botToken, {
    user_id_chat: ACCOUNT,
    messages: Array.from({ length: 60 }, (_, i) => ({
      message_id: `m_long_${i}`,
      conversation: { thread_id: 't_long', participant_id: 'u_long', participant_name: 'Đặng Quốc Bảo' },
      direction: 'in',
      text: `tin nhắn số ${i}`,
      sent_at: new Date(start + i * 60_000).toISOString(),
    })),
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const picture = `${sb.callcenter}/favicon.svg`;
  await push('t_long', 'Đặng Quốc Bảo', 'Ảnh mẫu đây shop', ACCOUNT, botToken, { attachments: [{ type: 'image', url: picture }] });
  await page.locator('[data-conversation]', { hasText: 'Đặng Quốc Bảo' }).click();
  const messages = page.getByTestId('messages');
  await messages.locator('.message', { hasText: 'Ảnh mẫu đây shop' }).locator(`img[src="${picture}"]`).waitFor();
  assert.equal(await messages.locator('.text', { hasText: /^tin nhắn số 0$/ }).count(), 0);
  // Newest at the bottom, scrolled there.
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="messages"]');
    return el && el.scrollHeight - el.scrollTop - el.clientHeight < 5;
  });
  await messages.evaluate((el) => el.scrollTo(0, 0));
  await messages.locator('.text', { hasText: /^tin nhắn số 0$/ }).waitFor({ timeout: 10000 });
  await page.getByText('Đầu cuộc hội thoại').waitFor();
  assert.equal(await messages.locator('.message').count(), 61);
});

test('a reply Facebook refuses shows failed with the reason, and can be retried', async () => {
  await push('t_fail', 'Vũ Thị Hạnh', 'Shop ơi tư vấn giúp mình', FAILING, failingToken);
  await page.locator(`[data-account="${FAILING}"]`).click();
  await page.locator('[data-conversation]', { hasText: 'Vũ Thị Hạnh' }).click();
  // The click changes the route; the thread (and its composer) is replaced once the route is read, so
  // typing before it shows this conversation would type into the previous one.
  await page.getByTestId('thread-name').filter({ hasText: 'Vũ Thị Hạnh' }).waitFor();
  await page.locator('.message.in', { hasText: 'Shop ơi tư vấn giúp mình' }).waitFor();
  const composer = page.getByTestId('composer');
  await composer.fill('Dạ bạn cần tư vấn mẫu nào ạ?');
  await page.getByRole('button', { name: 'Gửi', exact: true }).click();
  const failed = page.locator('.message.out[data-status="failed"]', { hasText: 'Dạ bạn cần tư vấn mẫu nào ạ?' });
  await failed.waitFor({ timeout: 15000 });
  assert.match(await failed.textContent(), /simulated failure/);
  // Sent again with a new command: queued, then refused again by this page.
  await failed.evaluate((element) => {
    window.__statuses = [];
    new MutationObserver(() => window.__statuses.push(element.dataset.status)).observe(element, {
      attributes: true,
      attributeFilter: ['data-status'],
    });
  });
  await failed.getByRole('button', { name: 'Gửi lại' }).click();
  await page.waitForFunction(() => window.__statuses.includes('queued') && window.__statuses.at(-1) === 'failed', undefined, {
    timeout: 15000,
  });
  assert.equal(await page.locator('.message.out').count(), 1);
  await page.getByRole('button', { name: 'Tất cả tài khoản' }).click();
});

test('notifications of each account arrive live', async () => {
  // The list is read first; what arrives after can only come live.
  const listed = page.waitForResponse((r) => r.url().includes(`/api/notifications/${ACCOUNT}`));
  await page.getByRole('link', { name: /Thông báo/ }).click();
  await page.getByTestId('account-picker').selectOption(ACCOUNT);
  await listed;
  const answer = await sb.post('/api/bot/new_notifications', botToken, {
    user_id_chat: ACCOUNT,
    notifications: [{
      notification_id: `n_${Date.now()}`, kind: 'comment', text: 'Hà đã bình luận về bài viết của bạn',
      link: 'javascript:alert(1)', occurred_at: Math.floor(Date.now() / 1000),
    }],
  });
  // A link that is not http(s) is refused by the receiver itself; without it the notification is kept.
  assert.equal(answer.status, 422, JSON.stringify(answer.body));
  const kept = await sb.post('/api/bot/new_notifications', botToken, {
    user_id_chat: ACCOUNT,
    notifications: [{
      notification_id: `n_${Date.now()}`, kind: 'comment', text: 'Hà đã bình luận về bài viết của bạn',
      link: 'https://www.facebook.com/page_hoa/posts/55', occurred_at: Math.floor(Date.now() / 1000),
    }],
  });
  assert.equal(kept.status, 200, JSON.stringify(kept.body));
  const item = page.getByTestId('notifications').locator('li', { hasText: 'Hà đã bình luận về bài viết của bạn' });
  await item.waitFor({ timeout: 10000 });
  assert.equal(await item.getByRole('link', { name: 'Mở' }).getAttribute('href'), 'https://www.facebook.com/page_hoa/posts/55');
});

test('a post goes from queued to posted, with its link', async () => {
  await page.getByRole('link', { name: 'Bài đăng' }).click();
  await page.getByTestId('account-picker').selectOption(ACCOUNT);
  const content = `Khuyến mãi cuối tuần: giảm 20% áo len (${Date.now()})`;
  await page.getByTestId('post-content').fill(content);
  // Every status a post shows, in order, from its first appearance.
  await page.getByTestId('posts').evaluate((list) => {
    window.__postStatuses = [];
    const note = (element) => element.dataset?.post && window.__postStatuses.push(element.dataset.status);
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === 'attributes') note(record.target);
        for (const added of record.addedNodes) note(added);
      }
    }).observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
  await page.getByRole('button', { name: 'Đăng bài' }).click();
  const post = page.locator('[data-post]', { hasText: content });
  await post.waitFor();
  await page.locator('[data-post][data-status="posted"]', { hasText: content }).waitFor({ timeout: 15000 });
  assert.deepEqual(await page.evaluate(() => window.__postStatuses), ['queued', 'posted']);
  assert.match(await post.getByRole('link', { name: 'Xem trên Facebook' }).getAttribute('href'), /^https:\/\//);
  await shot('posts');
});

test('an incoming call pops up with the customer, is answered, timed, hung up and logged', async () => {
  await page.getByRole('link', { name: /Cuộc gọi/ }).click();
  const offered = await sb.cti(pbx, { event: 'newCall', callId: 'call-e2e-1', from: '+84912345678', to: '1900 6868', direction: 'in' });
  assert.equal(offered.status, 200, JSON.stringify(offered.body));
  const popup = page.getByTestId('incoming-call');
  await popup.waitFor({ timeout: 10000 });
  assert.equal((await page.getByTestId('caller-number').textContent()).trim(), '+84912345678');
  await page.getByTestId('caller-customer').filter({ hasText: 'Phạm Thị Hương' }).waitFor();
  // Her Facebook conversation, linked in the inbox, is one click away.
  await popup.getByRole('button', { name: linkedName }).waitFor();
  await page.waitForFunction(() => document.body.dataset.ringing === 'true');
  await page.waitForFunction(() => window.__notifications.some((n) => n.body.includes('+84912345678')));
  await shot('incoming-call');
  await popup.getByRole('button', { name: 'Trả lời' }).click();
  await popup.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.body.dataset.ringing === 'false');
  const timer = page.getByTestId('call-timer');
  await page.waitForFunction(() => {
    const text = document.querySelector('[data-testid="call-timer"]')?.textContent ?? '';
    return /^0:0[2-9]$/.test(text.trim());
  }, undefined, { timeout: 10000 });
  await shot('in-call');
  await page.getByRole('button', { name: 'Kết thúc' }).click();
  await timer.waitFor({ state: 'detached' });
  const row = page.locator('[data-call="call-e2e-1"]');
  await row.waitFor();
  await page.locator('[data-call="call-e2e-1"][data-status="ended"]').waitFor({ timeout: 10000 });
  const talk = (await row.getByTestId('talk-seconds').textContent()).trim();
  assert.match(talk, /^0:0[2-9]$|^0:[1-5]\d$/);

  // A caller who gives up before anyone answers is a missed call, also in the log.
  await sb.cti(pbx, { event: 'newCall', callId: 'call-e2e-2', from: '0987000111', to: '1900 6868' });
  await page.getByTestId('incoming-call').filter({ hasText: '0987000111' }).waitFor();
  await page.getByTestId('caller-customer').filter({ hasText: 'Khách hàng mới' }).waitFor();
  await sb.cti(pbx, { event: 'hangup', callId: 'call-e2e-2', cause: 'cancel' });
  await page.getByTestId('incoming-call').waitFor({ state: 'detached' });
  await page.locator('[data-call="call-e2e-2"]', { hasText: 'Gọi nhỡ' }).waitFor({ timeout: 10000 });
  await shot('call-log');
});

test('customers, agents and admin screens show their data', async () => {
  await page.getByRole('link', { name: 'Khách hàng' }).click();
  await page.getByRole('button', { name: /Phạm Thị Hương/ }).click();
  await page.getByRole('heading', { name: 'Phạm Thị Hương' }).waitFor();
  await page.locator('li', { hasText: '+84912345678' }).first().waitFor();
  await shot('customers');
  // A reload keeps the session, and who the user is (the admin keeps the admin screen): the cookie
  // does, as nothing else is kept.
  assert.equal(await page.evaluate(() => localStorage.getItem('switchboard.session')), null);
  await page.reload();
  await page.getByRole('link', { name: 'Quản trị' }).waitFor();
  await page.getByText('Administrator', { exact: true }).waitFor();
  for (const link of ['sender', 'callcenter']) {
    await page.locator(`[data-link="${link}"][data-state="up"]`).waitFor({ timeout: 10000 });
  }
  await page.getByRole('link', { name: 'Nhân viên' }).click();
  await page.getByTestId('agents-available').getByText('Quản trị viên').waitFor();
  await page.getByTestId('agents-offline').getByText('Trần Văn Minh').waitFor();
  // Another agent's status changes elsewhere: the list follows, live.
  const agents = await sb.cc('GET', '/api/agents/status', admin);
  const minh = agents.body.data.find((a) => a.fullName === 'Trần Văn Minh');
  assert.equal((await sb.cc('PUT', `/api/agents/${minh.id}/status`, admin, { status: 'away' })).status, 200);
  await page.getByTestId('agents-away').getByText('Trần Văn Minh').waitFor({ timeout: 5000 });
  await page.getByRole('link', { name: 'Quản trị' }).click();
  await page.getByRole('cell', { name: ACCOUNT }).waitFor();
  await shot('admin');
  // English on request, and back.
  await page.getByLabel('Ngôn ngữ').selectOption('en');
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.getByText('All accounts').waitFor();
  await shot('inbox-en');
  await page.getByLabel('Language').selectOption('vi');
});

test('the page recovers after the server restarts, and misses nothing', async () => {
  await page.getByRole('link', { name: /Hộp thư/ }).click();
  await sb.kill();
  await page.locator('[data-link="sender"][data-state="down"]').waitFor({ timeout: 10000 });
  await page.locator('[data-link="callcenter"][data-state="down"]').waitFor({ timeout: 10000 });
  await sb.restartServe(['--ring-timeout-seconds', '60']);
  // Written at once after the restart, very likely before the console is back: it must still arrive.
  await push('t_after_restart', 'Đỗ Minh Khang', 'Shop ơi mình vẫn đợi phản hồi nhé');
  for (const link of ['receiver', 'sender', 'callcenter']) {
    await page.locator(`[data-link="${link}"][data-state="up"]`).waitFor({ timeout: 15000 });
  }
  await page.locator('[data-conversation]', { hasText: 'Đỗ Minh Khang' }).waitFor({ timeout: 10000 });
  // And live again afterwards.
  await push('t_after_restart_2', 'Bùi Thu Trang', 'Cho mình hỏi giá áo khoác');
  await page.locator('[data-conversation]', { hasText: 'Bùi Thu Trang' }).waitFor({ timeout: 10000 });
  // Logging out returns to the login screen, and ends the session: a reload stays logged out.
  await page.getByRole('button', { name: 'Đăng xuất' }).click();
  await page.getByRole('button', { name: 'Đăng nhập' }).waitFor();
  const me = await page.evaluate(async (url) => (await fetch(`${url}/api/auth/me`, { credentials: 'include' })).status, sb.sender);
  assert.equal(me, 401);
  await page.reload();
  await page.getByRole('button', { name: 'Đăng nhập' }).waitFor();
});
