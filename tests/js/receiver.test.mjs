// The receiver's Socket.IO stream as the official socket.io-client sees it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { Switchboard, message, collect } from './harness.mjs';

const sb = new Switchboard();
let bot;
let console_;

before(async () => {
  bot = sb.botToken('page1');
  console_ = sb.apiToken();
  await sb.startReceiver();
});
after(() => sb.stop());

// Handlers must be attached before the connection opens: a resumed stream starts right after CONNECT,
// in the same transport payload, so listeners added after 'connect' fires would miss the first events.
function connect(auth, options = {}, listen = () => {}) {
  const socket = io(sb.url, { auth, reconnection: false, forceNew: true, ...options });
  listen(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

test('new_messages arrive live (polling upgraded to websocket)', async () => {
  const socket = await connect({ token: console_ });
  const received = collect(socket, 'new_messages', 1);
  const { status } = await sb.post('/api/bot/new_messages', bot, {
    user_id_chat: 'page1',
    messages: [message('live-1', 't1', 'Shop ơi, áo này còn size M không?')],
  });
  assert.equal(status, 200);
  const [event] = await received;
  assert.equal(event.user_id_chat, 'page1');
  assert.equal(event.messages[0].message_id, 'live-1');
  assert.equal(event.messages[0].text, 'Shop ơi, áo này còn size M không?');
  assert.ok(Number.isInteger(event.event_id));
  socket.close();
});

test('reconnecting with the last event id replays exactly the missed events', async () => {
  const socket = await connect({ token: console_ }, { transports: ['websocket'] });
  const first = collect(socket, 'new_messages', 1);
  await sb.post('/api/bot/new_messages', bot, { user_id_chat: 'page1', messages: [message('r-0', 't2', 'một')] });
  const [{ event_id: lastSeen }] = await first;
  socket.close();

  for (let i = 1; i <= 3; i++) {
    const { status } = await sb.post('/api/bot/new_messages', bot, {
      user_id_chat: 'page1',
      messages: [message(`r-${i}`, 't2', `tin ${i}`)],
    });
    assert.equal(status, 200);
  }
  let replay;
  const again = await connect({ token: console_, last_event_id: lastSeen }, {}, (s) => {
    replay = collect(s, 'new_messages', 3);
  });
  const missed = await replay;
  assert.deepEqual(missed.map((e) => e.event_id), [lastSeen + 1, lastSeen + 2, lastSeen + 3]);
  assert.deepEqual(missed.map((e) => e.messages[0].message_id), ['r-1', 'r-2', 'r-3']);

  // Nothing is repeated afterwards; the next event is the next id.
  const next = collect(again, 'new_messages', 1);
  await sb.post('/api/bot/new_messages', bot, { user_id_chat: 'page1', messages: [message('r-4', 't2', 'bốn')] });
  const [live] = await next;
  assert.equal(live.event_id, lastSeen + 4);
  again.close();
});

test('the token can ride in the query string, as the seed client sends it', async () => {
  const socket = await connect(undefined, { query: { token: console_ } });
  const registered = collect(socket, 'bot_register', 1);
  await sb.post('/api/bot/register', bot, { user_id_chat: 'page1', bot_name: 'js-test' });
  const [event] = await registered;
  assert.equal(event.user_id_chat, 'page1');
  assert.equal(event.status, 'online');
  socket.close();
});

test('a wrong token gets connect_error with a reason', async () => {
  await assert.rejects(connect({ token: 'sba_nope' }), /unknown or revoked/);
  await assert.rejects(connect({}), /authentication required/);
});
