// Comments under a page's posts, in Chromium against the real server, with a bot on the official
// socket.io-client that executes the commands as documented (acknowledge, execute once, report): an
// agent answers a comment publicly, hides and deletes one; an admin turns on hiding comments with
// phone numbers and the next such comment is hidden by itself.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { chromium } from 'playwright-core';
import { ADMIN_PASSWORD, Switchboard, launchChromium } from './harness.mjs';

const PAGE = 'page_comments';
const POST = `${PAGE}_555`;
const sb = new Switchboard();
let admin;
let botToken;
let bot;
let browser;
let lan;
/** What the bot was asked to do, in order. */
const executed = [];

function comment(id, author, name, text) {
  return {
    comment_id: id, post_id: POST, author: { id: author, name }, text, created_at: Math.floor(Date.now() / 1000),
    post: { post_id: POST, text: 'Bình gốm men lam Bát Tràng, giá 450k', permalink: 'https://www.facebook.com/shop/posts/555' },
  };
}

async function push(...comments) {
  const answer = await sb.post('/api/bot/new_comments', botToken, { user_id_chat: PAGE, comments });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

async function consoleOf(username, password) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh' });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${username}: page error:`, error.message));
  await page.goto(`${sb.callcenter}/`);
  await page.getByLabel('Tên đăng nhập').fill(username);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('[data-link="sender"][data-state="up"]').waitFor({ timeout: 10000 });
  return page;
}

before(async () => {
  botToken = sb.cli('bots', 'add', PAGE, '--name', 'Gốm Bát Tràng');
  await sb.startServe();
  admin = await sb.login();
  const made = await sb.api('POST', '/api/users', admin, { username: 'lan', display_name: 'Nguyễn Thị Lan', role: 'agent', password: 'lan password 123' });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  bot = io(sb.sender, { auth: { token: botToken }, forceNew: true });
  for (const event of ['reply_comment_command', 'moderate_comment_command', 'private_reply_command']) {
    bot.on(event, (command) => {
      bot.emit('command_ack', { command_id: command.command_id });
      if (executed.some((done) => done.command_id === command.command_id)) return;
      executed.push({ event, ...command });
      const outcome = { command_id: command.command_id, status: 'sent' };
      if (event === 'reply_comment_command') outcome.platform_message_id = `${command.comment_id}_reply${executed.length}`;
      if (event === 'moderate_comment_command') outcome.platform_message_id = command.comment_id;
      // Facebook answers a private reply with the commenter's Messenger id.
      if (event === 'private_reply_command') Object.assign(outcome, { platform_message_id: `m_private_${executed.length}`, recipient_id: `psid_${command.author_id}` });
      bot.emit('message_status_update', outcome);
    });
  }
  await new Promise((resolve, reject) => { bot.once('connect', resolve); bot.once('connect_error', reject); });
  browser = await launchChromium(chromium);
  lan = await consoleOf('lan', 'lan password 123');
});

after(async () => {
  bot?.close();
  await browser?.close();
  await sb.stop();
});

test("an agent answers a comment publicly under the post's preview, then hides it", async () => {
  await push(comment('555_1', 'u1', 'Trần Văn Đức', 'Giá bao nhiêu ạ?'));
  await lan.getByTestId('status-filter').selectOption('any');
  await lan.getByTestId('tab-all').click();
  await lan.locator('[data-conversation]', { hasText: 'Trần Văn Đức' }).click();
  await lan.locator(`[data-post="${POST}"]`).getByText('Bình gốm men lam Bát Tràng, giá 450k').waitFor();
  const answer = lan.getByTestId('comment-answer');
  await answer.getByText('Trả lời bình luận: “Giá bao nhiêu ạ?”').waitFor();
  await answer.getByLabel('Viết câu trả lời công khai dưới bình luận…').fill('Dạ 450k ạ, shop inbox bạn nhé');
  await answer.getByRole('button', { name: 'Trả lời công khai' }).click();
  await lan.locator('.message.out.reply[data-status="sent"]', { hasText: 'Dạ 450k ạ, shop inbox bạn nhé' }).waitFor();
  const reply = executed.find((c) => c.event === 'reply_comment_command');
  assert.deepEqual([reply.comment_id, reply.text], ['555_1', 'Dạ 450k ạ, shop inbox bạn nhé']);

  const customerComment = lan.locator('.message.in', { hasText: 'Giá bao nhiêu ạ?' });
  await customerComment.getByRole('button', { name: 'Ẩn' }).click();
  await customerComment.locator('[data-comment-state="hidden"]').getByText('Đã ẩn').waitFor();
  await customerComment.getByRole('button', { name: 'Hiện lại' }).waitFor();
  const hide = executed.find((c) => c.event === 'moderate_comment_command');
  assert.deepEqual([hide.comment_id, hide.action], ['555_1', 'hide']);
});

test('an admin turns on hiding comments with phone numbers: the next one is hidden by itself, and an agent deletes one', async () => {
  const boss = await consoleOf('admin', ADMIN_PASSWORD);
  await boss.getByRole('link', { name: /Quản trị/ }).click();
  const toggle = boss.locator(`[data-hide-phone-comments="${PAGE}"] input`);
  const saved = boss.waitForResponse((r) => r.url().endsWith(`/api/fb_accounts/${PAGE}`) && r.request().method() === 'PATCH');
  await toggle.check();
  assert.equal((await saved).status(), 200);
  const accounts = await sb.api('GET', '/api/fb_accounts', admin);
  const stored = accounts.body.data.find((a) => a.user_id_chat === PAGE);
  assert.equal(stored.hide_phone_comments, true);

  await push(comment('555_2', 'u2', 'Lê Thị Số', 'Em lấy 2 cái, gọi em 0912.345.678 nhé'));
  await lan.locator('[data-conversation]', { hasText: 'Lê Thị Số' }).click();
  const hidden = lan.locator('.message.in', { hasText: '0912.345.678' });
  await hidden.locator('[data-comment-state="hidden"]').waitFor();
  assert.ok(executed.some((c) => c.event === 'moderate_comment_command' && c.comment_id === '555_2' && c.action === 'hide'));

  lan.once('dialog', (dialog) => dialog.accept());
  await hidden.getByRole('button', { name: 'Xoá' }).click();
  await hidden.locator('[data-comment-state="deleted"]').getByText('Đã xoá').waitFor();
  assert.equal(await hidden.getByRole('button', { name: 'Trả lời' }).count(), 0, 'a deleted comment takes no answer');
});

test('an agent moves a commenter to Messenger with a private reply, and opens that conversation from the comments', async () => {
  await push(comment('555_3', 'u3', 'Phạm Thu Hà', 'Ib em bảng giá sỉ nhé'));
  await lan.locator('[data-conversation]', { hasText: 'Phạm Thu Hà' }).click();
  const answer = lan.getByTestId('comment-answer');
  await answer.getByText('Trả lời bình luận: “Ib em bảng giá sỉ nhé”').waitFor();
  await answer.getByLabel('Viết câu trả lời công khai dưới bình luận…').fill('Chào chị, shop gửi bảng giá sỉ ạ');
  await answer.getByRole('button', { name: 'Nhắn riêng qua Messenger' }).click();
  await lan.getByTestId('open-messenger').click();
  await lan.getByTestId('thread-name').getByText('Phạm Thu Hà').waitFor();
  await lan.locator('.message.out[data-status="sent"]', { hasText: 'Chào chị, shop gửi bảng giá sỉ ạ' }).waitFor();
  assert.equal(await lan.getByTestId('comment-answer').count(), 0, 'a Messenger conversation has the usual composer');
  const sent = executed.find((c) => c.event === 'private_reply_command');
  assert.deepEqual([sent.comment_id, sent.author_id], ['555_3', 'u3']);
  const list = await sb.api('GET', `/api/conversations/${PAGE}`, admin);
  assert.ok(list.body.data.items.some((c) => c.thread_id === 'psid_u3' && c.participant_name === 'Phạm Thu Hà'), JSON.stringify(list.body.data.items.map((c) => c.thread_id)));
});
