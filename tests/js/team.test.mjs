// The team inbox in Chromium against the real server: two agents in two browsers share a
// conversation. One takes it, labels it, leaves a note mentioning the other and marks it pending;
// the other sees each change live, is told of the mention, and sees the customer's next message
// reopen it for its owner.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ADMIN_PASSWORD, Switchboard, launchChromium, message } from './harness.mjs';

const SHOTS = process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : mkdtempSync(path.join(tmpdir(), 'switchboard-screens-'));
const ACCOUNT = 'page_team';
const sb = new Switchboard();
let admin;
let botToken;
let browser;
let lan;
let minh;
let conversationId;

async function push(text, thread = 'thread_hoa', name = 'Vũ Thị Hoa', extra = {}) {
  const answer = await sb.post('/api/bot/new_messages', botToken, {
    user_id_chat: ACCOUNT,
    messages: [message(`m_${Date.now()}_${Math.random()}`, thread, text, { name, ...extra })],
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

/** A browser of its own, logged in as `username`, on the inbox. */
async function consoleOf(username, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 800 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${username}: page error:`, error.message));
  await page.goto(`${sb.callcenter}/`);
  await page.getByLabel('Tên đăng nhập').fill(username);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.getByRole('link', { name: /Hộp thư/ }).waitFor();
  await page.locator('[data-link="sender"][data-state="up"]').waitFor({ timeout: 10000 });
  return page;
}

before(async () => {
  botToken = sb.cli('bots', 'add', ACCOUNT, '--name', 'Shop Đồ Gốm');
  await sb.startServe();
  admin = await sb.login();
  for (const [username, display_name] of [['lan', 'Nguyễn Thị Lan'], ['minh', 'Trần Văn Minh']]) {
    const made = await sb.api('POST', '/api/users', admin, { username, display_name, role: 'agent', password: `${username} password 123` });
    assert.equal(made.status, 200, JSON.stringify(made.body));
  }
  const label = await sb.api('POST', '/api/labels', admin, { name: 'Khách sỉ', color: '#1f8a4c' });
  assert.equal(label.status, 200, JSON.stringify(label.body));
  for (const [shortcut, text] of [['chao', 'Dạ em chào {{customer.name}}, em là {{agent.name}} của {{page.name}} ạ'], ['cam-on', 'Cảm ơn {{customer.name}} ạ']]) {
    const canned = await sb.api('POST', '/api/canned_responses', admin, { shortcut, text });
    assert.equal(canned.status, 200, JSON.stringify(canned.body));
  }
  await push('Shop ơi bình hoa men lam còn không ạ?');
  const list = await sb.api('GET', `/api/conversations/${ACCOUNT}`, admin);
  conversationId = list.body.data.items[0].id;
  browser = await launchChromium(chromium);
  lan = await consoleOf('lan', 'lan password 123');
  minh = await consoleOf('minh', 'minh password 123');
});

after(async () => {
  await browser?.close();
  await sb.stop();
});

test('the queue shows the new conversation to both agents, with the tabs counted', async () => {
  for (const page of [lan, minh]) {
    await page.getByTestId('tab-unassigned').click();
    await page.locator(`[data-conversation="${conversationId}"]`).waitFor();
    await page.getByTestId('count-unassigned').filter({ hasText: '1' }).waitFor();
    await page.getByTestId('count-mine').filter({ hasText: '0' }).waitFor();
  }
});

test('one agent takes it; the other sees the owner live and cannot take it', async () => {
  await lan.locator(`[data-conversation="${conversationId}"]`).click();
  await minh.locator(`[data-conversation="${conversationId}"]`).click();
  await lan.getByTestId('take').click();
  await lan.getByTestId('assignee-name').filter({ hasText: 'Nguyễn Thị Lan' }).waitFor();
  await lan.getByTestId('count-mine').filter({ hasText: '1' }).waitFor();
  // Minh's thread stays open; its header now names Lan, and "Nhận" is gone.
  await minh.getByTestId('assignee-name').filter({ hasText: 'Nguyễn Thị Lan' }).waitFor();
  assert.equal(await minh.getByTestId('take').count(), 0);
  await minh.getByTestId('count-unassigned').filter({ hasText: '0' }).waitFor();
  // Minh's "unassigned" tab no longer lists it.
  await minh.locator(`[data-conversation="${conversationId}"]`).waitFor({ state: 'detached' });
  // Behind Minh's back, the API refuses him too.
  const minhToken = await sb.login('minh', 'minh password 123');
  const refused = await sb.api('POST', `/api/conversations/${conversationId}/take`, minhToken);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'already_assigned');
});

test('a label and a note with a mention reach the other console live, and the note is no reply', async () => {
  await lan.getByTestId('add-label').selectOption('Khách sỉ');
  await lan.getByTestId('label-chip').filter({ hasText: 'Khách sỉ' }).waitFor();
  await minh.getByTestId('label-chip').filter({ hasText: 'Khách sỉ' }).waitFor();

  await lan.getByTestId('note-mode').click();
  const composer = lan.getByTestId('composer');
  await composer.fill('@minh khách hỏi giá sỉ 50 cái, anh báo giá giúp em');
  await composer.press('Enter');
  await lan.locator('[data-note]', { hasText: 'giá sỉ 50 cái' }).waitFor();
  await minh.locator('[data-note]', { hasText: 'giá sỉ 50 cái' }).waitFor();
  // Minh is told: a toast names the author and the customer.
  await minh.getByRole('status').filter({ hasText: /Nguyễn Thị Lan.*nhắc đến bạn.*Vũ Thị Hoa/ }).waitFor();
  // Lan wrote it: Lan is not told.
  assert.equal(await lan.getByRole('status').filter({ hasText: 'nhắc đến bạn' }).count(), 0);
  // Nothing went to the customer: the thread's messages are the customer's only.
  assert.equal(await lan.locator('.message.out').count(), 0);
});

test('pending, then the customer writes again: open for its owner, in both consoles', async () => {
  await lan.getByTestId('status').selectOption('pending');
  await minh.waitForFunction(() => document.querySelector('[data-testid="status"]')?.value === 'pending');
  await push('Dạ em lấy 50 cái nhé shop');
  for (const page of [lan, minh]) {
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.value === 'open');
    await page.getByTestId('assignee-name').filter({ hasText: 'Nguyễn Thị Lan' }).waitFor();
  }
  // "Tất cả" lists it with its owner and label.
  await minh.getByTestId('tab-all').click();
  const row = minh.locator(`[data-conversation="${conversationId}"]`);
  await row.getByTestId('row-assignee').filter({ hasText: 'Nguyễn Thị Lan' }).waitFor();
  await row.locator('.tag', { hasText: 'Khách sỉ' }).waitFor();
  mkdirSync(SHOTS, { recursive: true });
  await minh.screenshot({ path: path.join(SHOTS, 'team-inbox.png') });
});

test('a canned response is offered on `/` and inserted with the customer, agent and page filled in', async () => {
  await lan.getByRole('radio', { name: 'Trả lời' }).click();
  const composer = lan.getByTestId('composer');
  await composer.fill('');
  await composer.pressSequentially('/c');
  const offered = lan.getByTestId('canned').getByRole('option');
  await offered.filter({ hasText: '/chao' }).waitFor();
  // By shortcut: /cam-on, then /chao; the arrows wrap around.
  assert.deepEqual(await offered.locator('strong').allTextContents(), ['/cam-on', '/chao']);
  for (const key of ['ArrowDown', 'ArrowDown', 'ArrowUp']) await composer.press(key);
  await offered.filter({ hasText: '/chao' }).and(lan.locator('[aria-selected="true"]')).waitFor();
  await composer.press('Enter');
  assert.equal(await composer.inputValue(), 'Dạ em chào Vũ Thị Hoa, em là Nguyễn Thị Lan của Shop Đồ Gốm ạ');
  await lan.getByTestId('canned').waitFor({ state: 'detached' });
  // Sent as typed: the bot gets the filled-in text.
  await composer.press('Enter');
  await lan.locator('.message.out', { hasText: 'Dạ em chào Vũ Thị Hoa' }).waitFor();
});

test('keys: ? shows the sheet, e resolves the open conversation, j and k move between conversations', async () => {
  await minh.getByTestId('thread-name').click();
  await minh.keyboard.press('?');
  await minh.getByTestId('shortcuts').getByText('Đánh dấu đã xong').waitFor();
  await minh.keyboard.press('Escape');
  await minh.getByTestId('shortcuts').waitFor({ state: 'detached' });
  await minh.keyboard.press('e');
  for (const page of [minh, lan]) {
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.value === 'resolved');
  }
  // Typing in the composer is typing: no key acts there.
  await minh.getByTestId('composer').fill('');
  await minh.getByTestId('composer').press('j');
  assert.equal(await minh.getByTestId('composer').inputValue(), 'j');
  await minh.getByTestId('composer').fill('');

  await push('Tin của khách khác', 'thread_an', 'Lê Văn An');
  await minh.getByTestId('status-filter').selectOption('any');
  const other = minh.locator('[data-conversation]', { hasText: 'Lê Văn An' });
  await other.waitFor();
  await minh.getByTestId('thread-name').click();
  // The newest is first: k from the older one moves up to it, j back down.
  await minh.keyboard.press('k');
  await minh.getByTestId('thread-name').filter({ hasText: 'Lê Văn An' }).waitFor();
  await minh.keyboard.press('j');
  await minh.getByTestId('thread-name').filter({ hasText: 'Vũ Thị Hoa' }).waitFor();
});

test("the composer shows Messenger's window before the agent types, and refuses a reply it would refuse", async () => {
  // Hoa wrote a moment ago: a normal reply, with almost 24 hours left.
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  await lan.locator(`[data-conversation="${conversationId}"]`).click();
  await lan.getByTestId('window').filter({ hasText: /Còn 23 giờ \d+ phút/ }).waitFor();
  // A customer whose last message is eight days old: the page may not answer at all.
  const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
  await push('Tin cũ từ tuần trước', 'thread_old', 'Đặng Văn Cũ', { sent_at: eightDaysAgo });
  await lan.locator('[data-conversation]', { hasText: 'Đặng Văn Cũ' }).click();
  await lan.getByTestId('thread-name').filter({ hasText: 'Đặng Văn Cũ' }).waitFor();
  await lan.locator('[data-window="closed"]', { hasText: 'quá 7 ngày' }).waitFor();
  await lan.getByTestId('composer').fill('Dạ shop chào anh');
  assert.equal(await lan.getByRole('button', { name: 'Gửi', exact: true }).isDisabled(), true);
  // A note is for the team: the window does not apply.
  await lan.getByTestId('note-mode').click();
  assert.equal(await lan.getByRole('button', { name: 'Lưu ghi chú' }).isDisabled(), false);
  assert.equal(await lan.getByTestId('window').count(), 0);
});

test('an admin shares a page with one team in the console, an agent outside it loses the page live, and the team gets its own canned reply', async () => {
  const KHO = 'page_kho';
  const khoBot = sb.cli('bots', 'add', KHO, '--name', 'Kho Sỉ');
  const answer = await sb.post('/api/bot/new_messages', khoBot, {
    user_id_chat: KHO,
    messages: [message(`m_kho_${Date.now()}`, 'thread_kho', 'Cho em báo giá sỉ', { name: 'Phạm Văn Sỉ' })],
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  for (const page of [lan, minh]) {
    await page.getByTestId('status-filter').selectOption('any');
    await page.getByTestId('tab-all').click();
    await page.locator('[data-conversation]', { hasText: 'Phạm Văn Sỉ' }).waitFor();
  }

  const boss = await consoleOf('admin', ADMIN_PASSWORD);
  await boss.getByRole('link', { name: /Quản trị/ }).click();
  await boss.getByLabel('Tên nhóm').fill('Ca sáng');
  await boss.getByLabel('Tên nhóm').press('Enter');
  const team = boss.locator('[data-team="Ca sáng"]');
  await team.getByLabel('Nguyễn Thị Lan').check();
  const access = boss.locator(`[data-access="${KHO}"]`);
  await access.getByText('Mọi người').waitFor();
  await access.getByRole('button', { name: 'Phân quyền…' }).click();
  await access.getByLabel('Ca sáng').check();
  await access.getByRole('button', { name: 'Lưu quyền xem' }).click();
  await access.locator('.access-summary', { hasText: 'Ca sáng' }).waitFor();

  // Minh is not in the team: the page's conversation leaves his console, and its next message never
  // reaches him, while Lan, in the team, receives it.
  await minh.locator('[data-conversation]', { hasText: 'Phạm Văn Sỉ' }).waitFor({ state: 'detached' });
  const again = await sb.post('/api/bot/new_messages', khoBot, {
    user_id_chat: KHO,
    messages: [message(`m_kho2_${Date.now()}`, 'thread_kho', 'Shop ơi trả lời em với', { name: 'Phạm Văn Sỉ' })],
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  await lan.locator('[data-conversation]', { hasText: 'Shop ơi trả lời em với' }).waitFor();
  await push('Tin mới trên trang chung', 'thread_chung', 'Hồ Thị Chung');
  await minh.locator('[data-conversation]', { hasText: 'Hồ Thị Chung' }).waitFor();
  assert.equal(await minh.locator('[data-conversation]', { hasText: 'Phạm Văn Sỉ' }).count(), 0);

  // A canned response for the team: its members are offered it, others are not.
  const canned = boss.locator('section', { has: boss.getByRole('heading', { name: /Câu trả lời mẫu/ }) });
  await canned.getByLabel('Phím tắt').fill('bao-gia-si');
  await canned.getByLabel(/^Nội dung/).fill('Dạ {{customer.name}} ơi, bảng giá sỉ em gửi ngay ạ');
  await canned.getByLabel('Dành cho').selectOption({ label: 'Ca sáng' });
  await canned.getByRole('button', { name: 'Thêm' }).click();
  await canned.locator('tr', { hasText: '/bao-gia-si' }).getByText('Ca sáng').waitFor();
  for (const page of [lan, minh]) {
    await page.reload();
    await page.locator('[data-link="sender"][data-state="up"]').waitFor({ timeout: 10000 });
  }
  await lan.locator('[data-conversation]', { hasText: 'Phạm Văn Sỉ' }).click();
  await lan.getByRole('radio', { name: 'Trả lời' }).click();
  await lan.getByTestId('composer').fill('');
  await lan.getByTestId('composer').pressSequentially('/');
  await lan.getByTestId('canned').getByRole('option', { name: /bao-gia-si/ }).waitFor();
  assert.deepEqual(await lan.getByTestId('canned').getByRole('option').locator('strong').allTextContents(), ['/bao-gia-si', '/cam-on', '/chao']);
  await minh.locator('[data-conversation]', { hasText: 'Hồ Thị Chung' }).click();
  await minh.getByRole('radio', { name: 'Trả lời' }).click();
  await minh.getByTestId('composer').fill('');
  await minh.getByTestId('composer').pressSequentially('/');
  await minh.getByTestId('canned').getByRole('option', { name: /chao/ }).waitFor();
  assert.deepEqual(await minh.getByTestId('canned').getByRole('option').locator('strong').allTextContents(), ['/cam-on', '/chao']);
  await boss.context().close();
});

test("an admin turns on automatic assignment for a page: its waiting conversation lands in an online agent's \"Của tôi\"", async () => {
  const AUTO = 'page_auto';
  const autoBot = sb.cli('bots', 'add', AUTO, '--name', 'Shop Tự Động');
  const answer = await sb.post('/api/bot/new_messages', autoBot, {
    user_id_chat: AUTO,
    messages: [message(`m_auto_${Date.now()}`, 'thread_auto', 'Chào shop, em muốn đặt hàng', { name: 'Lê Văn Tự' })],
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  for (const page of [lan, minh]) {
    await page.getByTestId('status-filter').selectOption('open');
    await page.getByTestId('tab-mine').click();
  }

  const boss = await consoleOf('admin', ADMIN_PASSWORD);
  await boss.getByRole('link', { name: /Quản trị/ }).click();
  const settings = boss.locator(`[data-assignment="${AUTO}"]`);
  await settings.getByLabel('Tối đa mỗi người').fill('50');
  await settings.getByLabel('Tối đa mỗi người').press('Tab');
  await settings.getByLabel('Tự động chia cho nhân viên đang trực tuyến').check();

  // Lan and Minh are online (their consoles are open): one of them is given it at once, and it shows
  // under their own tab.
  const mine = (page) => page.locator('[data-conversation]', { hasText: 'Lê Văn Tự' }).waitFor().then(() => page);
  const owner = await Promise.any([mine(lan), mine(minh)]);
  const list = await sb.api('GET', `/api/conversations/${AUTO}`, admin);
  const expected = owner === lan ? 'lan' : 'minh';
  const team = await sb.api('GET', '/api/team', admin);
  const byId = Object.fromEntries(team.body.data.map((m) => [m.id, m]));
  assert.equal(byId[list.body.data.items[0].assignee_user_id].username, expected);
  assert.ok(byId[list.body.data.items[0].assignee_user_id].online);
  const stored = await sb.api('GET', '/api/fb_accounts', admin);
  assert.deepEqual(stored.body.data.find((a) => a.user_id_chat === AUTO).assignment, { auto: true, limit: 50, return_when_offline: false });
  await boss.context().close();
});

test('an agent attaches a picture with the picker and drops a PDF: both go with the reply, and the picture shows', async () => {
  // A real 1×1 PNG, so that the browser draws it (proving it was served to the console's cookie).
  const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  await lan.locator(`[data-conversation="${conversationId}"]`).click();
  await lan.getByRole('radio', { name: 'Trả lời' }).click();
  await lan.getByTestId('file-picker').setInputFiles({ name: 'áo men lam.png', mimeType: 'image/png', buffer: PNG });
  await lan.getByTestId('files').getByText('áo men lam.png').waitFor();
  const dropped = await lan.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['%PDF-1.4 bảng giá sỉ'], 'bang-gia.pdf', { type: 'application/pdf' }));
    return transfer;
  });
  await lan.locator('form.composer').dispatchEvent('drop', { dataTransfer: dropped });
  await lan.getByTestId('files').getByText('bang-gia.pdf').waitFor();
  // A file of a type Messenger does not take is refused by name, and the reply keeps the others.
  await lan.getByTestId('file-picker').setInputFiles({ name: 'setup.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ\x90\x00') });
  await lan.getByText(/phải là ảnh|must be a picture/).first().waitFor();
  assert.equal(await lan.getByTestId('files').locator('[data-file]').count(), 2);

  await lan.getByTestId('composer').fill('Dạ em gửi ảnh và bảng giá ạ');
  await lan.getByTestId('composer').press('Enter');
  const sent = lan.locator('.message.out', { hasText: 'Dạ em gửi ảnh và bảng giá ạ' });
  await sent.locator('a', { hasText: 'bang-gia.pdf' }).waitFor();
  const picture = sent.locator('img');
  await picture.waitFor();
  await lan.waitForFunction((img) => img.complete && img.naturalWidth === 1, await picture.elementHandle());
  await lan.getByTestId('files').waitFor({ state: 'detached' });

  const messages = await sb.api('GET', `/api/messages/${conversationId}`, admin);
  const reply = messages.body.data.items.find((m) => m.text === 'Dạ em gửi ảnh và bảng giá ạ');
  assert.deepEqual(reply.attachments.map((a) => [a.type, a.name, a.content_type]), [['image', 'áo men lam.png', 'image/png'], ['file', 'bang-gia.pdf', 'application/pdf']]);
});

test('the list keeps only the rows in view in the page, whatever the number of conversations', async () => {
  const messages = [];
  for (let i = 0; i < 300; i++) messages.push(message(`m_many_${i}_${Date.now()}`, `thread_many_${i}`, `Khách số ${i} hỏi giá`, { name: `Khách ${i}` }));
  const answer = await sb.post('/api/bot/new_messages', botToken, { user_id_chat: ACCOUNT, messages });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  const list = lan.getByTestId('conversation-list');
  await lan.waitForFunction(() => Number(document.querySelector('[data-testid="conversation-list"]')?.dataset.total) >= 300);
  const rendered = await list.locator('[data-conversation]').count();
  assert.ok(rendered > 0 && rendered < 40, `${rendered} rows in the page`);
  // Scrolled to the end, the last row is there, and the first is gone.
  const total = Number(await list.getAttribute('data-total'));
  await list.evaluate((element) => {
    element.scrollTop = element.scrollHeight;
    element.dispatchEvent(new Event('scroll'));
  });
  await list.locator(`[aria-posinset="${total}"] [data-conversation]`).waitFor();
  assert.equal(await list.locator('[aria-posinset="1"]').count(), 0);
  // Back to the top with `k` from the second row: the rows follow the selection.
  await list.evaluate((element) => {
    element.scrollTop = 0;
    element.dispatchEvent(new Event('scroll'));
  });
  await list.locator('[aria-posinset="2"] [data-conversation]').click();
  await lan.keyboard.press('k');
  await list.locator('[aria-posinset="1"] [data-conversation][aria-selected="true"]').waitFor();
});

test('a thread that keeps receiving keeps a bounded page, and scrolling up brings the older messages back', async () => {
  await push('Chào shop, em hỏi nhiều lắm', 'thread_long', 'Đặng Văn Dài');
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  await lan.locator('[data-conversation]', { hasText: 'Đặng Văn Dài' }).click();
  const log = lan.getByTestId('messages');
  await log.getByText('Chào shop, em hỏi nhiều lắm').waitFor();
  const start = Date.now();
  for (let batch = 0; batch < 4; batch++) {
    const messages = [];
    for (let i = 0; i < 100; i++) {
      const n = batch * 100 + i;
      messages.push(message(`m_long_${n}_${start}`, 'thread_long', `Câu hỏi số ${n}`, { name: 'Đặng Văn Dài', sent_at: new Date(start + n).toISOString() }));
    }
    const answer = await sb.post('/api/bot/new_messages', botToken, { user_id_chat: ACCOUNT, messages });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  // The newest is on screen, at the bottom; the page holds a window of the newest, not all 401.
  await log.getByText('Câu hỏi số 399', { exact: true }).waitFor();
  const drawn = await log.locator('[data-message]').count();
  assert.ok(drawn <= 150, `${drawn} messages in the page`);
  assert.equal(await log.getByText('Câu hỏi số 100', { exact: true }).count(), 0);
  // Scrolling to the top brings the window's older messages into the page.
  await log.evaluate((element) => {
    element.scrollTop = 0;
    element.dispatchEvent(new Event('scroll'));
  });
  await log.getByText('Câu hỏi số 200', { exact: true }).waitFor();
  assert.ok((await log.locator('[data-message]').count()) > drawn);
});

test('search ignores accents: "duc" finds Đức and Duc, "Đức" puts Đức first, and words of a message are found', async () => {
  await push('Cho em hỏi giá bình gốm', 'thread_duc', 'Trần Đức');
  await push('Điện thoại của shop là gì ạ', 'thread_duc_plain', 'Le Duc');
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  const search = lan.getByLabel('Tìm theo tên hoặc nội dung (gõ không dấu cũng được)');
  const rows = lan.locator('[data-conversation]');
  const names = async () => (await lan.locator('[data-conversation] .name').allInnerTexts()).map((name) => name.trim());

  await search.fill('duc');
  await rows.filter({ hasText: 'Trần Đức' }).waitFor();
  await rows.filter({ hasText: 'Le Duc' }).waitFor();
  await rows.filter({ hasText: 'Đặng Văn Dài' }).waitFor({ state: 'detached' });
  // Without accents, most recent first: Le Duc wrote last.
  assert.deepEqual((await names()).slice(0, 2), ['Le Duc', 'Trần Đức']);

  await search.fill('Đức');
  await lan.locator('[aria-posinset="1"] [data-conversation]', { hasText: 'Trần Đức' }).waitFor();
  assert.deepEqual((await names()).slice(0, 2), ['Trần Đức', 'Le Duc']);

  await search.fill('dien thoai');
  await rows.filter({ hasText: 'Le Duc' }).waitFor();
  await rows.filter({ hasText: 'Trần Đức' }).waitFor({ state: 'detached' });

  // A punctuation-only search finds nothing and breaks nothing; clearing it brings the list back.
  await search.fill('%%% "*');
  await rows.first().waitFor({ state: 'detached' });
  await search.fill('');
  await rows.filter({ hasText: 'Trần Đức' }).waitFor();
});

test('a number the customer wrote is kept on a new customer, linked to the conversation, in one click', async () => {
  await push('Số của em là 0912.345.678, giao giờ hành chính nhé', 'thread_phone', 'Hồ Thị Số');
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  await lan.locator('[data-conversation]', { hasText: 'Hồ Thị Số' }).click();
  const chip = lan.locator('[data-phone="+84912345678"]');
  await chip.click();
  await lan.locator('[data-phone="+84912345678"][disabled]').waitFor();
  await lan.getByRole('button', { name: /Khách hàng: Hồ Thị Số/ }).waitFor();
  const conversations = await sb.api('GET', `/api/conversations/${ACCOUNT}?q=${encodeURIComponent('ho thi so')}`, admin);
  const id = conversations.body.data.items[0].id;
  const linked = await sb.cc('GET', `/api/customers?conversationId=${id}`, admin);
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  assert.deepEqual(linked.body.data.map((c) => [c.fullName, c.phoneNumbers]), [['Hồ Thị Số', ['+84912345678']]]);
});
