// The sender with the official socket.io-client as both a console and a bot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { Switchboard, message, collect } from './harness.mjs';

const sb = new Switchboard();
let botToken;
let admin;

before(async () => {
  botToken = sb.botToken('page1');
  await sb.startServe();
  admin = await sb.login();
});
after(() => sb.stop());

function connect(url, auth, listen = () => {}) {
  const socket = io(url, { auth, reconnection: false, forceNew: true });
  listen(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function until(socket, event, predicate, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching ${event}`)), ms);
    const handler = (payload) => {
      if (predicate(payload)) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(payload);
      }
    };
    socket.on(event, handler);
  });
}

test('an agent send reaches the bot; the bot result reaches the console live', async () => {
  await sb.post('/api/bot/new_messages', botToken, { user_id_chat: 'page1', messages: [message('in-1', 't1', 'Còn hàng không shop?')] });
  const conversations = await sb.api('GET', '/api/conversations/page1', admin);
  const conversationId = conversations.body.data.items[0].id;

  const console_ = await connect(sb.sender, { token: admin });
  const bot = await connect(sb.sender, { token: botToken });
  // The bot behaves as documented: acknowledge, execute once, report.
  const executed = new Set();
  let reported;
  const reportAnswered = new Promise((resolve) => { reported = resolve; });
  bot.on('send_message_command', (command) => {
    bot.emit('command_ack', { command_id: command.command_id });
    if (executed.has(command.command_id)) return;
    executed.add(command.command_id);
    bot.emit('message_status_update', { command_id: command.command_id, status: 'sent', platform_message_id: 'm_js_1' }, reported);
  });

  const sentUpdate = until(console_, 'message_status_update', (e) => e.message.status === 'sent');
  const { status, body } = await sb.api('POST', '/api/send_message_from_crm', admin, { conversation_id: conversationId, text: 'Dạ còn ạ' });
  assert.equal(status, 200);
  assert.equal(body.data.message.status, 'queued');
  const update = await sentUpdate;
  assert.equal(update.message.id, body.data.message.id);
  assert.equal(update.message.message_id, 'm_js_1');
  assert.equal(executed.size, 1);
  // The server acknowledged the bot's report (awaited here, so a missing or failed answer fails the test).
  const answer = await reportAnswered;
  assert.equal(answer.success, true);
  bot.close();
  console_.close();
});

test('a console on the sender receives the receiver events, resumably', async () => {
  const first = await connect(sb.sender, { token: admin });
  const got = collect(first, 'new_messages', 1);
  await sb.post('/api/bot/new_messages', botToken, { user_id_chat: 'page1', messages: [message('in-2', 't2', 'một')] });
  const [{ event_id: lastSeen }] = await got;
  first.close();
  await sb.post('/api/bot/new_messages', botToken, { user_id_chat: 'page1', messages: [message('in-3', 't2', 'hai')] });
  let replay;
  const again = await connect(sb.sender, { token: admin, last_event_id: lastSeen }, (s) => {
    replay = collect(s, 'new_messages', 1);
  });
  const [missed] = await replay;
  assert.equal(missed.messages[0].message_id, 'in-3');
  again.close();
});
