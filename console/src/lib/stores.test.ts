import { describe, expect, it } from 'vitest';
import { resolveEndpoint } from './api';
import { applyCallCenterEvent, applySenderEvent, Cursor } from './events';
import { formatDuration, formatNumber, translate } from './i18n.svelte';
import { initials, isolated, safeText, safeUrl } from './safe';
import { CallsStore } from './stores/calls.svelte';
import { FeedStore } from './stores/feed.svelte';
import { InboxStore, matchesFilter } from './stores/inbox.svelte';
import type { Account, Conversation, Message, Post } from './types';

function conversation(id: number, patch: Partial<Conversation> = {}): Conversation {
  return {
    id,
    user_id_chat: 'page_1',
    thread_id: `t_${id}`,
    participant_id: `p_${id}`,
    participant_name: `Khách ${id}`,
    last_message_text: 'xin chào',
    last_message_direction: 'in',
    last_message_at: '2026-11-22T02:00:00Z',
    unread_count: 1,
    status: 'open',
    assignee_user_id: null,
    snoozed_until: null,
    labels: [],
    ...patch,
  };
}

/** The filter that shows everything, but for what a test names. */
const EVERYTHING = { account: null, unreadOnly: false, search: '', view: 'all', status: 'any', label: null } as const;

function message(id: number, conversationId: number, patch: Partial<Message> = {}): Message {
  return {
    id,
    conversation_id: conversationId,
    message_id: `m_${id}`,
    direction: 'in',
    text: `tin ${id}`,
    attachments: [],
    status: 'received',
    error: null,
    sent_at: `2026-11-22T02:00:${String(id % 60).padStart(2, '0')}Z`,
    author_user_id: null,
    ...patch,
  };
}

function stores() {
  return { inbox: new InboxStore(), feed: new FeedStore(), calls: new CallsStore() };
}

describe('inbox store', () => {
  it('forgets the conversations of pages an admin took away, and the open one with them', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(1, { user_id_chat: 'page_1' }));
    s.inbox.upsertConversation(conversation(2, { user_id_chat: 'page_2' }));
    s.inbox.selected = 2;
    s.inbox.filter.account = 'page_2';
    s.inbox.setAccounts([{ user_id_chat: 'page_1' } as Account]);
    s.inbox.forgetHiddenAccounts();
    expect(Object.keys(s.inbox.conversations)).toEqual(['1']);
    expect(s.inbox.selected).toBeNull();
    expect(s.inbox.filter.account).toBeNull();
  });

  it("keeps a comments conversation's link to Messenger when a new comment's event leaves it out", () => {
    const s = stores();
    s.inbox.upsertConversations([conversation(9, { thread_id: 'comments:p1:u1', linked_conversation_id: 12 })]);
    applySenderEvent(s, 'new_messages', {
      messages: [message(5, 9)],
      conversations: [conversation(9, { thread_id: 'comments:p1:u1', last_message_at: '2026-11-22T03:00:00Z' })],
    });
    expect(s.inbox.conversations[9].linked_conversation_id).toBe(12);
    expect(s.inbox.conversations[9].last_message_at).toBe('2026-11-22T03:00:00Z');
  });

  it('takes new messages into the conversation list and the open thread, in order, once', () => {
    const s = stores();
    s.inbox.applyOlderPage(7, { items: [message(2, 7)], next_cursor: null });
    applySenderEvent(s, 'new_messages', { messages: [message(4, 7), message(3, 7)], conversations: [conversation(7, { unread_count: 2 })] });
    applySenderEvent(s, 'new_messages', { messages: [message(4, 7)], conversations: [conversation(7, { unread_count: 2 })] });
    expect(s.inbox.threads[7].messages.map((m) => m.id)).toEqual([2, 3, 4]);
    expect(s.inbox.conversations[7].unread_count).toBe(2);
    expect(s.inbox.unreadTotal).toBe(1);
  });

  it('files a conversation from an event under the account the event names', () => {
    const s = stores();
    const { user_id_chat: _omitted, ...bare } = conversation(8);
    applySenderEvent(s, 'new_messages', { user_id_chat: 'page_2', messages: [], conversations: [bare] });
    expect(s.inbox.conversations[8].user_id_chat).toBe('page_2');
    s.inbox.filter.account = 'page_2';
    expect(s.inbox.visible.map((c) => c.id)).toEqual([8]);
  });

  it('does not open threads for messages of conversations nobody looks at', () => {
    const s = stores();
    applySenderEvent(s, 'new_messages', { messages: [message(1, 9)], conversations: [conversation(9)] });
    expect(s.inbox.threads[9]).toBeUndefined();
    expect(s.inbox.visible.map((c) => c.id)).toEqual([9]);
  });

  it('moves a sent message from queued to sent, and shows a failure with its reason', () => {
    const s = stores();
    s.inbox.applyOlderPage(7, { items: [], next_cursor: null });
    const queued = message(10, 7, { direction: 'out', status: 'queued', message_id: null });
    s.inbox.upsertMessage(queued);
    applySenderEvent(s, 'message_status_update', { message: { ...queued, status: 'sent', message_id: 'm_out' } });
    expect(s.inbox.threads[7].messages).toHaveLength(1);
    expect(s.inbox.threads[7].messages[0].status).toBe('sent');
    applySenderEvent(s, 'message_status_update', { message: { ...queued, status: 'failed', error: 'outside the 24-hour window' } });
    expect(s.inbox.threads[7].messages[0]).toMatchObject({ status: 'failed', error: 'outside the 24-hour window' });
  });

  it('makes a reply the conversation’s last message', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(7, { last_message_at: '2026-11-22T02:00:00Z' }));
    const reply = message(11, 7, { direction: 'out', status: 'queued', text: 'Dạ còn ạ', sent_at: '2026-11-22T02:01:00Z' });
    applySenderEvent(s, 'message_status_update', { event_id: 3, message: reply });
    expect(s.inbox.conversations[7]).toMatchObject({ last_message_text: 'Dạ còn ạ', last_message_direction: 'out' });
  });

  it('keeps a sent message sent when the send’s answer (an older copy) arrives after the event', () => {
    const s = stores();
    s.inbox.applyOlderPage(7, { items: [], next_cursor: null });
    const queued = message(10, 7, { direction: 'out', status: 'queued', message_id: null });
    applySenderEvent(s, 'message_status_update', { event_id: 11, message: { ...queued, status: 'sent' } });
    s.inbox.upsertMessage(queued, 10);
    s.inbox.applyOlderPage(7, { items: [queued], next_cursor: null });
    expect(s.inbox.threads[7].messages.map((m) => m.status)).toEqual(['sent']);
    applySenderEvent(s, 'message_status_update', { event_id: 12, message: { ...queued, status: 'failed', error: 'x' } });
    expect(s.inbox.threads[7].messages[0].status).toBe('failed');
  });

  it('keeps the newer copy of a conversation when an older one arrives late', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(1, { last_message_at: '2026-11-22T03:00:00Z', last_message_text: 'mới' }));
    s.inbox.upsertConversation(conversation(1, { last_message_at: '2026-11-22T02:00:00Z', last_message_text: 'cũ', unread_count: 0 }));
    expect(s.inbox.conversations[1].last_message_text).toBe('mới');
    // Its unread count too: only `conversation_read` (in order with the messages) clears it.
    expect(s.inbox.conversations[1].unread_count).toBe(1);
  });

  it('lists the most recent first and filters by account, unread and text', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(1, { last_message_at: '2026-11-22T01:00:00Z' }));
    s.inbox.upsertConversation(conversation(2, { last_message_at: '2026-11-22T05:00:00Z', user_id_chat: 'page_2', unread_count: 0 }));
    s.inbox.upsertConversation(conversation(3, { last_message_at: '2026-11-22T03:00:00Z', participant_name: 'Trần Thị Bình' }));
    expect(s.inbox.visible.map((c) => c.id)).toEqual([2, 3, 1]);
    s.inbox.filter.account = 'page_1';
    expect(s.inbox.visible.map((c) => c.id)).toEqual([3, 1]);
    s.inbox.filter.account = null;
    s.inbox.filter.unreadOnly = true;
    expect(s.inbox.visible.map((c) => c.id)).toEqual([3, 1]);
    expect(matchesFilter(conversation(3, { participant_name: 'Trần Thị Bình' }), { ...EVERYTHING, search: 'bình' })).toBe(true);
    expect(matchesFilter(conversation(3), { ...EVERYTHING, search: 'xyz' })).toBe(false);
  });

  it('shows mine, the queue or all, by status and label', () => {
    const mine = conversation(1, { assignee_user_id: 7, labels: ['VIP'] });
    const queued = conversation(2);
    const resolved = conversation(3, { assignee_user_id: 8, status: 'resolved' });
    const shown = (filter: Partial<typeof EVERYTHING> | Record<string, unknown>) =>
      [mine, queued, resolved].filter((c) => matchesFilter(c, { ...EVERYTHING, ...filter } as never, 7)).map((c) => c.id);
    expect(shown({ view: 'mine' })).toEqual([1]);
    expect(shown({ view: 'unassigned' })).toEqual([2]);
    expect(shown({ status: 'open' })).toEqual([1, 2]);
    expect(shown({ status: 'resolved' })).toEqual([3]);
    expect(shown({ label: 'vip' })).toEqual([1]);
    expect(matchesFilter(mine, { ...EVERYTHING, view: 'mine' }, null)).toBe(false);
  });

  it('takes a conversation_updated whole, but keeps a newer last message', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(1, { last_message_at: '2026-11-22T05:00:00Z', last_message_text: 'mới nhất' }));
    s.inbox.applyConversationUpdated({
      user_id_chat: 'page_1',
      conversation: conversation(1, { assignee_user_id: 4, status: 'pending', labels: ['VIP'], last_message_text: 'cũ' }),
    });
    const updated = s.inbox.conversations[1];
    expect([updated.assignee_user_id, updated.status, updated.labels, updated.last_message_text]).toEqual([4, 'pending', ['VIP'], 'mới nhất']);
    s.inbox.applyConversationUpdated({ conversation: conversation(2, { assignee_user_id: 5 }) });
    expect(s.inbox.conversations[2].assignee_user_id).toBe(5);
  });

  it('adds a note once to a thread whose notes are loaded', () => {
    const s = stores();
    const note = { id: 1, conversation_id: 1, author_user_id: 2, author_name: 'lan', text: '@minh xem giúp', mentions: [3], created_at: '2026-11-22T02:00:00Z' };
    s.inbox.applyNoteAdded({ note });
    expect(s.inbox.notes[1]).toBeUndefined();
    s.inbox.notes[1] = [];
    s.inbox.applyNoteAdded({ note });
    s.inbox.applyNoteAdded({ note });
    expect(s.inbox.notes[1].map((n) => n.id)).toEqual([1]);
  });

  it('clears the unread count when any console reads the conversation', () => {
    const s = stores();
    s.inbox.upsertConversation(conversation(5, { unread_count: 4 }));
    applySenderEvent(s, 'conversation_read', { conversation: { ...conversation(5), unread_count: 0 } });
    expect(s.inbox.conversations[5].unread_count).toBe(0);
  });

  it('merges older pages under the thread without duplicates and remembers where to continue', () => {
    const s = stores();
    s.inbox.applyOlderPage(7, { items: [message(5, 7), message(4, 7)], next_cursor: 'c1' });
    s.inbox.applyOlderPage(7, { items: [message(4, 7), message(3, 7), message(2, 7)], next_cursor: null });
    expect(s.inbox.threads[7].messages.map((m) => m.id)).toEqual([2, 3, 4, 5]);
    expect(s.inbox.threads[7].olderCursor).toBeNull();
  });

  it('shows each bot status as it is announced', () => {
    const s = stores();
    const account: Account = {
      id: 1, user_id_chat: 'page_1', name: 'Shop Hoa', kind: 'page', enabled: true, bot_status: 'online',
      bot_status_message: null, needs_login: false, bot_seen_at: null, credentials: {},
    };
    s.inbox.setAccounts([account]);
    applySenderEvent(s, 'bot_status', { user_id_chat: 'page_1', status: 'needs_login', message: 'checkpoint' });
    expect(s.inbox.accounts[0]).toMatchObject({ bot_status: 'needs_login', needs_login: true, bot_status_message: 'checkpoint' });
    applySenderEvent(s, 'bot_register', { user_id_chat: 'page_1', status: 'online', account_name: 'Shop Hoa 2' });
    expect(s.inbox.accounts[0]).toMatchObject({ bot_status: 'online', needs_login: false, name: 'Shop Hoa 2' });
  });
});

describe('feed store', () => {
  it('adds notifications newest first and counts the unseen ones', () => {
    const s = stores();
    applySenderEvent(s, 'new_notifications', {
      user_id_chat: 'page_1',
      notifications: [{ id: 1, notification_id: 'n1', kind: 'comment', text: 'a', link: null, occurred_at: '2026-11-22T01:00:00Z' }],
    });
    applySenderEvent(s, 'new_notifications', {
      user_id_chat: 'page_1',
      notifications: [{ id: 2, notification_id: 'n2', kind: 'reaction', text: 'b', link: null, occurred_at: '2026-11-22T02:00:00Z' }],
    });
    expect(s.feed.notifications.page_1.map((n) => n.id)).toEqual([2, 1]);
    expect(s.feed.unseen.page_1).toBe(2);
    s.feed.markSeen('page_1');
    expect(s.feed.unseen.page_1).toBe(0);
  });

  it('moves a post from queued to posted with its link', () => {
    const s = stores();
    const post: Post = {
      id: 3, user_id_chat: 'page_1', content: 'Khuyến mãi', status: 'queued', platform_post_id: null, link: null,
      error: null, created_at: '2026-11-22T01:00:00Z', updated_at: '2026-11-22T01:00:00Z', author_user_id: 1,
    };
    applySenderEvent(s, 'post_status_update', { post });
    applySenderEvent(s, 'post_status_update', { post: { ...post, status: 'posted', link: 'https://www.facebook.com/1_3' } });
    expect(s.feed.posts.page_1).toHaveLength(1);
    expect(s.feed.posts.page_1[0]).toMatchObject({ status: 'posted', link: 'https://www.facebook.com/1_3' });
    // The answer to the post request (event 20) arriving after the event that it was posted (21).
    applySenderEvent(s, 'post_status_update', { event_id: 21, post: { ...post, status: 'posted' } });
    s.feed.applyPostStatus({ event_id: 20, post });
    expect(s.feed.posts.page_1[0].status).toBe('posted');
  });
});

describe('calls store', () => {
  const agent = { id: 2, userId: 5, fullName: 'Lan', status: 'available' as const, state: 'idle', extension: '101' };
  const incoming = {
    callId: 'C1', callerNumber: '0912345678', calledNumber: '1900', assignedAgent: agent, customerInfo: null,
    startTime: '2026-11-22T02:00:00Z', status: 'ringing',
  };

  it('pops a call up, connects it with the timer from the answer, and ends it', () => {
    const s = stores();
    applyCallCenterEvent(s, 'incoming_call_to_crm', incoming);
    expect(s.calls.ringingList.map((c) => c.callId)).toEqual(['C1']);
    applyCallCenterEvent(s, 'call_answered', { call: { callId: 'C1', status: 'connected', agentInfo: agent }, at: '2026-11-22T02:00:05Z' });
    expect(s.calls.ringingList).toHaveLength(0);
    expect(s.calls.active.C1).toMatchObject({ callerNumber: '0912345678', agentId: 2, answeredAt: Date.parse('2026-11-22T02:00:05Z') });
    applyCallCenterEvent(s, 'call_ended', { callId: 'C1', endReason: 'crm_hangup', duration: 30 });
    expect(s.calls.activeList).toHaveLength(0);
  });

  it('never shows again a call that has ended (a replay or snapshot after a reconnect)', () => {
    const s = stores();
    applyCallCenterEvent(s, 'incoming_call_to_crm', incoming);
    applyCallCenterEvent(s, 'call_ended', { callId: 'C1', endReason: 'caller_cancel', duration: 0 });
    expect(applyCallCenterEvent(s, 'incoming_call_to_crm', incoming)).toBe(false);
    expect(s.calls.ringingList).toHaveLength(0);
  });

  it('reconciles calls in progress with the log: connected ones shown, finished ones dropped', () => {
    const s = stores();
    const record = {
      callId: 'C7', direction: 'in', callerNumber: '0909', calledNumber: '1900', queue: null, source: 'cti',
      status: 'connected', customerId: null, offeredAgentId: 2, answeredBy: 2, startTime: '2026-11-22T02:00:00Z',
      answeredAt: '2026-11-22T02:00:03Z', endTime: null, endReason: null, missed: false, waitSeconds: 3, talkSeconds: 0,
    };
    s.calls.applyConnected([record]);
    expect(s.calls.active.C7).toMatchObject({ agentId: 2, answeredAt: Date.parse('2026-11-22T02:00:03Z') });
    s.calls.applyConnected([{ ...record, status: 'ended', endTime: '2026-11-22T02:01:00Z' }]);
    expect(s.calls.activeList).toHaveLength(0);
    // A call that ended while the log was being read does not come back.
    applyCallCenterEvent(s, 'call_ended', { callId: 'C7', endReason: 'normal_clearing', duration: 57 });
    s.calls.applyConnected([record]);
    expect(s.calls.activeList).toHaveLength(0);
  });

  it('follows agents’ statuses live, the user’s own included', () => {
    const s = stores();
    s.calls.setAgents([agent]);
    s.calls.me = { ...agent };
    applyCallCenterEvent(s, 'agent_status_update', { agentId: 2, agentName: 'Lan', status: 'away', previousStatus: 'available' });
    expect(s.calls.agents[2].status).toBe('away');
    expect(s.calls.me?.status).toBe('away');
    expect(s.calls.agentList.filter((a) => a.status === 'available')).toHaveLength(0);
    applyCallCenterEvent(s, 'agent_status_update', { agentId: 9, agentName: 'Minh', status: 'available' });
    expect(s.calls.agentList.filter((a) => a.status === 'available').map((a) => a.fullName)).toEqual(['Minh']);
  });

  it('rings for the agent it is offered to, and for everyone who is not an agent', () => {
    const s = stores();
    expect(s.calls.isMine(incoming)).toBe(true);
    s.calls.me = { ...agent, id: 3 };
    expect(s.calls.isMine(incoming)).toBe(false);
    s.calls.me = { ...agent };
    expect(s.calls.isMine(incoming)).toBe(true);
  });
});

describe('event cursor', () => {
  it('passes each event once, in order, and resumes after the last', () => {
    const cursor = new Cursor();
    expect(cursor.accept({ event_id: 5 })).toBe(true);
    expect(cursor.accept({ event_id: 5 })).toBe(false);
    expect(cursor.accept({ event_id: 4 })).toBe(false);
    expect(cursor.accept({ event_id: 6 })).toBe(true);
    expect(cursor.accept({})).toBe(true);
    expect(cursor.last).toBe(6);
  });
});

describe('helpers', () => {
  it('speaks Vietnamese by default and English on request', () => {
    expect(translate('vi', 'calls.answer')).toBe('Trả lời');
    expect(translate('en', 'calls.answer')).toBe('Answer');
    expect(translate('en', 'composer.tooLong', { max: 2000 })).toBe('At most 2000 characters');
  });

  it('formats call lengths and numbers by locale', () => {
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3700)).toBe('1:01:40');
    expect(formatNumber(1234567, 'vi-VN')).toBe('1.234.567');
    expect(formatNumber(1234567, 'en-US')).toBe('1,234,567');
  });

  it('lets only http(s) URLs become links or images', () => {
    expect(safeUrl('https://scontent.xx.fbcdn.net/a.jpg')).toBe('https://scontent.xx.fbcdn.net/a.jpg');
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl('data:text/html,<script>alert(1)</script>')).toBeNull();
    expect(safeUrl(42)).toBeNull();
    expect(initials('Nguyễn Văn An')).toBe('NA');
  });

  it('shows bidi controls in untrusted text as visible escapes, and drops direction marks', () => {
    // "\u202Eabc" would read "cba": the override is shown, the text keeps its order.
    expect(safeText('\u202Eabc')).toBe('[U+202E]abc');
    expect(safeText('invoice\u202Efdp.exe')).toBe('invoice[U+202E]fdp.exe');
    for (const control of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069']) {
      const shown = safeText(`a${control}b`);
      expect(shown).toBe(`a[U+${control.charCodeAt(0).toString(16).toUpperCase()}]b`);
    }
    // Invisible marks only move the characters around them (a phone number's digits): dropped.
    expect(safeText('0912\u200F345\u200E678\u061C')).toBe('0912345678');
    // Everything else is left as written: Vietnamese, HTML as text, right-to-left letters.
    expect(safeText('Nguyễn <b>Văn</b> An')).toBe('Nguyễn <b>Văn</b> An');
    expect(safeText('مرحبا')).toBe('مرحبا');
    expect(safeText(null)).toBe('');
    expect(safeText(undefined)).toBe('');
    expect(safeText(84912345678)).toBe('84912345678');
    // Where no <bdi> can go, the text is isolated by the standard isolate characters of its own.
    expect(isolated('\u202Eabc')).toBe('\u2068[U+202E]abc\u2069');
    expect(initials('\u202EAn Bình')).toBe('AB');
  });

  it('finds the sender on the page’s host unless a URL is configured', () => {
    const page = { protocol: 'http:', hostname: 'crm.local' };
    expect(resolveEndpoint({ url: null, port: 5002 }, page, 5002)).toBe('http://crm.local:5002');
    expect(resolveEndpoint({ url: 'https://api.example.vn/', port: null }, page, 5002)).toBe('https://api.example.vn');
  });
});
