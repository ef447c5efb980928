// Accounts, conversations and threads as the console shows them, kept current by events.
// The `apply*` methods are pure state changes (unit-tested); the `load*` methods read the sender's API.

import type { Api, PageOf } from '../api';
import { queryTerms, textsMatch } from '../search';
import type { Account, CannedResponse, Conversation, ConversationCounts, ConversationStatus, Label, Member, Message, Note } from '../types';

/** The tabs: the user's conversations, the queue (nobody's), or all. */
export type InboxView = 'mine' | 'unassigned' | 'all';

export interface InboxFilter {
  /** `user_id_chat`, or null for every account. */
  account: string | null;
  unreadOnly: boolean;
  search: string;
  view: InboxView;
  /** Which status the list shows; `any` for all of them. */
  status: ConversationStatus | 'any';
  /** A label's name, or null for any. */
  label: string | null;
}

/** What a conversation's owner, state and labels may be changed to (`PATCH /api/conversations/{id}`). */
export interface ConversationChanges {
  assignee_user_id?: number | null;
  status?: ConversationStatus;
  snoozed_until?: string;
  labels?: string[];
}

export interface Thread {
  messages: Message[];
  /** Cursor of the next older page; null once the start is loaded. */
  olderCursor: string | null;
  loadingOlder: boolean;
}

const PAGE = 50;

function time(value: string | null | undefined): number {
  const parsed = value ? Date.parse(value) : NaN;
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** Oldest first, the order a thread is read in; ties broken by id, as the server pages them. */
export function byThreadOrder(a: Message, b: Message): number {
  return time(a.sent_at) - time(b.sent_at) || a.id - b.id;
}

/** Most recently active first, as the server lists them. */
export function byRecentActivity(a: Conversation, b: Conversation): number {
  return time(b.last_message_at) - time(a.last_message_at) || b.id - a.id;
}

/** The filter's tab as `GET …?assignee=`: `me`, `none`, or nothing for all. */
function assigneeParam(view: InboxView): string | undefined {
  return view === 'mine' ? 'me' : view === 'unassigned' ? 'none' : undefined;
}

/**
 * `me` is the console user's id (null before login: nothing is theirs). `terms`: the search's words, made
 * once by a caller that filters many conversations.
 */
export function matchesFilter(
  conversation: Conversation,
  filter: InboxFilter,
  me: number | null = null,
  terms: string[] = queryTerms(filter.search),
): boolean {
  if (filter.account && conversation.user_id_chat !== filter.account) return false;
  if (filter.unreadOnly && conversation.unread_count === 0) return false;
  if (filter.view === 'mine' && (me === null || conversation.assignee_user_id !== me)) return false;
  if (filter.view === 'unassigned' && conversation.assignee_user_id !== null) return false;
  if (filter.status !== 'any' && conversation.status !== filter.status) return false;
  if (filter.label && !conversation.labels.some((l) => l.toLowerCase() === filter.label!.toLowerCase())) return false;
  if (filter.search.trim()) {
    return textsMatch(terms, conversation.participant_name, conversation.last_message_text);
  }
  return true;
}

export class InboxStore {
  accounts = $state<Account[]>([]);
  /**
   * Every conversation known, by id. Raw state, replaced whole on each change (never mutated): the
   * list is re-sorted at each event, and reading thousands of plain objects costs a fraction of
   * reading them through deep-state proxies (a CPU profile at 100 messages/s showed the proxies'
   * traps as the page's largest cost).
   */
  conversations = $state.raw<Record<number, Conversation>>({});
  /**
   * Conversations found by the last server search, kept even when their text no longer matches: 0 when
   * they have the words as typed (a search with accents; these come first), 1 otherwise.
   */
  searchHits = $state<Record<number, 0 | 1>>({});
  threads = $state<Record<number, Thread>>({});
  filter = $state<InboxFilter>({ account: null, unreadOnly: false, search: '', view: 'all', status: 'open', label: null });
  /** The console user's id: "mine" is theirs. */
  me = $state<number | null>(null);
  counts = $state<ConversationCounts | null>(null);
  labels = $state<Label[]>([]);
  members = $state<Member[]>([]);
  canned = $state<CannedResponse[]>([]);
  /** Per conversation: its private notes, oldest first (read when it is opened). */
  notes = $state<Record<number, Note[]>>({});
  selected = $state<number | null>(null);
  /** Per account: the cursor of its next page of conversations (absent once all are loaded). */
  moreCursors = $state<Record<string, string>>({});
  loading = $state(false);
  error = $state<string | null>(null);
  /** Per message id: the event id it was last shown as of (see `upsertMessage`). */
  private versions = new Map<number, number>();

  /** The list as filtered: a conversation the server's search found stays, whatever its newest text. */
  visible = $derived.by(() => {
    // Each conversation's time is read once, not at every comparison of the sort, and the search's
    // words are made once, not per conversation (a hundred events a second re-sort a list of thousands).
    const terms = queryTerms(this.filter.search);
    const found = { ...this.filter, search: '' };
    return Object.values(this.conversations)
      .filter((c) =>
        this.searchHits[c.id] !== undefined ? matchesFilter(c, found, this.me, []) : matchesFilter(c, this.filter, this.me, terms),
      )
      .map((c) => ({ group: this.searchHits[c.id] ?? 1, at: time(c.last_message_at), id: c.id, c }))
      .sort((a, b) => a.group - b.group || b.at - a.at || b.id - a.id)
      .map((entry) => entry.c);
  });

  /** Per account, how many conversations have unread messages. */
  unreadByAccount = $derived(
    Object.values(this.conversations).reduce<Record<string, number>>((counts, c) => {
      if (c.unread_count > 0) counts[c.user_id_chat] = (counts[c.user_id_chat] ?? 0) + 1;
      return counts;
    }, {}),
  );
  unreadTotal = $derived(Object.values(this.unreadByAccount).reduce((sum, n) => sum + n, 0));

  account(userIdChat: string): Account | undefined {
    return this.accounts.find((a) => a.user_id_chat === userIdChat);
  }

  /** A user's name as the team knows them (display name, else username). */
  memberName(userId: number | null): string {
    const member = this.members.find((m) => m.id === userId);
    return member ? member.display_name || member.username : userId === null ? '' : `#${userId}`;
  }

  label(name: string): Label | undefined {
    return this.labels.find((l) => l.name.toLowerCase() === name.toLowerCase());
  }

  // ---- state changes -------------------------------------------------------------------------

  setAccounts(accounts: Account[]) {
    this.accounts = accounts;
  }

  /** After an admin changed who sees which page: forgets what this user may no longer see. */
  forgetHiddenAccounts() {
    const seen = new Set(this.accounts.map((a) => a.user_id_chat));
    this.conversations = Object.fromEntries(Object.entries(this.conversations).filter(([, c]) => seen.has(c.user_id_chat)));
    if (this.filter.account && !seen.has(this.filter.account)) this.filter.account = null;
    if (this.selected !== null && !this.conversations[this.selected]) this.selected = null;
  }

  upsertConversation(conversation: Conversation) {
    this.upsertConversations([conversation]);
  }

  /** Several at once, in one replacement of the record. */
  upsertConversations(conversations: Conversation[]) {
    // An older copy (a REST answer overtaken by an event) never replaces a newer one, unread count
    // included: `conversation_read`, ordered with the other events, is what clears it.
    const newer = conversations.filter((c) => {
      const known = this.conversations[c.id];
      return !known || time(known.last_message_at) <= time(c.last_message_at);
    });
    if (newer.length === 0) return;
    const next = { ...this.conversations };
    // The ingest's events leave out what messages do not change (the Messenger conversation a
    // private reply linked): kept from the copy known.
    for (const c of newer) {
      const linked = c.linked_conversation_id ?? this.conversations[c.id]?.linked_conversation_id;
      next[c.id] = linked ? { ...c, linked_conversation_id: linked } : c;
    }
    this.conversations = next;
  }

  /** Replaces one known conversation's fields. */
  private patchConversation(id: number, changes: Partial<Conversation>) {
    const known = this.conversations[id];
    if (known) this.conversations = { ...this.conversations, [id]: { ...known, ...changes } };
  }

  /**
   * Shows a message as of `version` (the id of the event that carried it, or of the event a send's
   * answer names). A send's answer often arrives after the event saying it was sent: the older copy
   * must not put it back to queued. Copies without a version (a page read) never replace one with.
   */
  upsertMessage(message: Message, version?: number) {
    const known = this.versions.get(message.id);
    if (version !== undefined) {
      if (known !== undefined && known >= version) return;
      this.versions.set(message.id, version);
    }
    const thread = this.threads[message.conversation_id];
    if (!thread) return;
    const index = thread.messages.findIndex((m) => m.id === message.id);
    if (index >= 0) {
      if (version === undefined && known !== undefined) return;
      thread.messages[index] = message;
    } else {
      thread.messages.push(message);
      thread.messages.sort(byThreadOrder);
    }
  }

  applyNewMessages(payload: { event_id?: number; user_id_chat?: string; messages?: Message[]; conversations?: Conversation[] }) {
    // The event names the account once, at the top; each conversation carries it in the REST API.
    this.upsertConversations(
      (payload.conversations ?? []).map((conversation) => ({ ...conversation, user_id_chat: conversation.user_id_chat ?? payload.user_id_chat ?? '' })),
    );
    for (const message of payload.messages ?? []) this.upsertMessage(message, payload.event_id);
  }

  applyMessageStatus(payload: { event_id?: number; message?: Message }) {
    const message = payload.message;
    if (!message) return;
    this.upsertMessage(message, payload.event_id);
    // A reply becomes the conversation's last message (the server's list says so too; the event
    // carries only the message).
    const conversation = this.conversations[message.conversation_id];
    if (message.direction === 'out' && conversation && time(message.sent_at) >= time(conversation.last_message_at)) {
      this.patchConversation(conversation.id, { last_message_text: message.text, last_message_direction: 'out', last_message_at: message.sent_at });
    }
  }

  /** Someone changed a conversation's owner, state or labels: the event carries it whole. */
  applyConversationUpdated(payload: { user_id_chat?: string; conversation?: Conversation }) {
    const conversation = payload.conversation;
    if (!conversation) return;
    const known = this.conversations[conversation.id];
    // Keep the newer last message if a message event overtook this one (it carries the same owner).
    if (known && time(known.last_message_at) > time(conversation.last_message_at)) {
      this.patchConversation(known.id, {
        status: conversation.status,
        assignee_user_id: conversation.assignee_user_id,
        snoozed_until: conversation.snoozed_until,
        labels: conversation.labels,
      });
      return;
    }
    this.conversations = { ...this.conversations, [conversation.id]: { ...conversation, user_id_chat: conversation.user_id_chat ?? payload.user_id_chat ?? '' } };
  }

  applyNoteAdded(payload: { note?: Note }) {
    const note = payload.note;
    if (!note) return;
    const notes = this.notes[note.conversation_id];
    if (!notes || notes.some((n) => n.id === note.id)) return;
    notes.push(note);
  }

  applyLabelsChanged(payload: { labels?: Label[] }) {
    if (payload.labels) this.labels = payload.labels;
  }

  applyConversationRead(payload: { conversation?: Conversation }) {
    const conversation = payload.conversation;
    if (!conversation) return;
    this.patchConversation(conversation.id, { unread_count: conversation.unread_count });
  }

  applyBotStatus(payload: { user_id_chat?: string; status?: string; message?: string; source?: string; account_name?: string }) {
    const account = this.accounts.find((a) => a.user_id_chat === payload.user_id_chat);
    if (!account || !payload.status) return;
    account.bot_status = payload.status as Account['bot_status'];
    account.bot_status_message = payload.message ?? null;
    account.needs_login = payload.status === 'needs_login';
    if (payload.account_name) account.name = payload.account_name;
  }

  /** Merges an older page of a thread (newest-first from the server) under what is shown. */
  applyOlderPage(conversationId: number, page: PageOf<Message>) {
    const thread = this.threads[conversationId] ?? { messages: [], olderCursor: null, loadingOlder: false };
    const known = new Set(thread.messages.map((m) => m.id));
    thread.messages = [...page.items.filter((m) => !known.has(m.id)), ...thread.messages].sort(byThreadOrder);
    thread.olderCursor = page.next_cursor;
    thread.loadingOlder = false;
    this.threads[conversationId] = thread;
  }

  // ---- reading the API -----------------------------------------------------------------------

  async loadAccounts(api: Api) {
    this.setAccounts(await api.sender<Account[]>('GET', '/api/fb_accounts'));
  }

  /** The filter as the list's query parameters (search and paging aside). */
  private listCriteria() {
    return {
      unread: this.filter.unreadOnly || undefined,
      assignee: assigneeParam(this.filter.view),
      status: this.filter.status === 'any' ? undefined : this.filter.status,
      label: this.filter.label ?? undefined,
    };
  }

  /** The labels and the team, for the thread's controls and the filters. */
  async loadTeam(api: Api) {
    const [labels, members, canned] = await Promise.all([
      api.sender<Label[]>('GET', '/api/labels'),
      api.sender<Member[]>('GET', '/api/team'),
      api.sender<CannedResponse[]>('GET', '/api/canned_responses'),
    ]);
    this.labels = labels;
    this.members = members;
    this.canned = canned;
  }

  /** The tabs' counts, for the status the list shows (`open` when it shows every status). */
  async loadCounts(api: Api) {
    const status = this.filter.status === 'any' ? 'open' : this.filter.status;
    this.counts = await api.sender<ConversationCounts>('GET', '/api/inbox/counts', undefined, { status });
  }

  /** Changes a conversation's owner, state or labels; the answer is the conversation as changed. */
  async update(api: Api, conversationId: number, changes: ConversationChanges) {
    const conversation = await api.sender<Conversation>('PATCH', `/api/conversations/${conversationId}`, changes);
    this.applyConversationUpdated({ conversation });
  }

  /** "Nhận": takes a conversation nobody owns. */
  async take(api: Api, conversationId: number) {
    const conversation = await api.sender<Conversation>('POST', `/api/conversations/${conversationId}/take`);
    this.applyConversationUpdated({ conversation });
  }

  async addNote(api: Api, conversationId: number, text: string) {
    const note = await api.sender<Note>('POST', `/api/conversations/${conversationId}/notes`, { text });
    this.applyNoteAdded({ note });
    return note;
  }

  /** A conversation's notes (the newest 200: a thread rarely has more). */
  private async loadNotes(api: Api, conversationId: number) {
    const page = await api.sender<PageOf<Note>>('GET', `/api/conversations/${conversationId}/notes`, undefined, { limit: 200 });
    const known = this.notes[conversationId] ?? [];
    const read = new Set(page.items.map((n) => n.id));
    this.notes[conversationId] = [...page.items.reverse(), ...known.filter((n) => !read.has(n.id))];
  }

  /** Reloads the conversation list for the current filter: every account's first page, merged. */
  private listRequest = 0;

  async loadConversations(api: Api) {
    const request = ++this.listRequest;
    this.loading = true;
    this.error = null;
    const accounts = this.filter.account ? [this.filter.account] : this.accounts.map((a) => a.user_id_chat);
    const search = this.filter.search.trim();
    try {
      const pages = await Promise.all(
        accounts.map((account) =>
          api
            .sender<PageOf<Conversation>>('GET', `/api/conversations/${encodeURIComponent(account)}`, undefined, {
              limit: PAGE,
              ...this.listCriteria(),
              q: search || undefined,
            })
            .then((page) => [account, page] as const),
        ),
      );
      if (request !== this.listRequest) return; // a newer filter was asked for meanwhile
      const hits: Record<number, 0 | 1> = {};
      const cursors: Record<string, string> = {};
      for (const [account, page] of pages) {
        this.upsertConversations(page.items);
        for (const c of page.items) hits[c.id] = c.exact_match ? 0 : 1;
        if (page.next_cursor) cursors[account] = page.next_cursor;
      }
      this.searchHits = search ? hits : {};
      this.moreCursors = cursors;
    } catch (error) {
      if (request === this.listRequest) this.error = error instanceof Error ? error.message : String(error);
    } finally {
      if (request === this.listRequest) this.loading = false;
    }
  }

  async loadMoreConversations(api: Api) {
    const search = this.filter.search.trim();
    const entries = Object.entries(this.moreCursors);
    const cursors: Record<string, string> = {};
    for (const [account, cursor] of entries) {
      const page = await api.sender<PageOf<Conversation>>('GET', `/api/conversations/${encodeURIComponent(account)}`, undefined, {
        limit: PAGE,
        cursor,
        ...this.listCriteria(),
        q: search || undefined,
      });
      this.upsertConversations(page.items);
      if (search) for (const c of page.items) this.searchHits[c.id] = c.exact_match ? 0 : 1;
      if (page.next_cursor) cursors[account] = page.next_cursor;
    }
    this.moreCursors = cursors;
  }

  /** Opens a conversation: its newest page of messages, and marks it read. */
  async open(api: Api, conversationId: number) {
    this.selected = conversationId;
    // Opened from a link (a call's or a customer's conversations): maybe not in the loaded list.
    if (!this.conversations[conversationId]) await this.byIds(api, [conversationId]);
    const page = await api.sender<PageOf<Message>>('GET', `/api/messages/${conversationId}`, undefined, { limit: PAGE });
    // Replace: the newest page is the truth; events that came meanwhile are in it or newer.
    const previous = this.threads[conversationId]?.messages ?? [];
    const newest = page.items.length ? page.items[0] : null;
    const later = newest ? previous.filter((m) => byThreadOrder(m, newest) > 0 && !page.items.some((p) => p.id === m.id)) : previous;
    // A message an event already showed keeps that copy: the page may have been read just before it.
    const current = page.items.map((m) => (this.versions.has(m.id) ? (previous.find((p) => p.id === m.id) ?? m) : m));
    this.threads[conversationId] = {
      messages: [...current, ...later].sort(byThreadOrder),
      olderCursor: page.next_cursor,
      loadingOlder: false,
    };
    await this.loadNotes(api, conversationId);
    await this.markRead(api, conversationId);
  }

  /** Conversations by id, whatever their account (kept in the store too), most recent first. */
  async byIds(api: Api, ids: number[]): Promise<Conversation[]> {
    if (ids.length === 0) return [];
    const found = await api.sender<Conversation[]>('GET', '/api/conversations', undefined, { ids: ids.slice(0, 100).join(',') });
    for (const conversation of found) this.upsertConversation(conversation);
    return found;
  }

  async loadOlder(api: Api, conversationId: number) {
    const thread = this.threads[conversationId];
    if (!thread || !thread.olderCursor || thread.loadingOlder) return;
    thread.loadingOlder = true;
    try {
      const page = await api.sender<PageOf<Message>>('GET', `/api/messages/${conversationId}`, undefined, {
        limit: PAGE,
        cursor: thread.olderCursor,
      });
      this.applyOlderPage(conversationId, page);
    } catch (error) {
      thread.loadingOlder = false;
      throw error;
    }
  }

  async markRead(api: Api, conversationId: number) {
    const conversation = this.conversations[conversationId];
    if (conversation && conversation.unread_count === 0) return;
    const updated = await api.sender<Conversation>('POST', `/api/conversations/${conversationId}/read`);
    this.applyConversationRead({ conversation: updated });
  }

  async send(api: Api, conversationId: number, text: string, attachmentIds: number[] = []) {
    const answer = await api.sender<{ message: Message; event_id: number }>('POST', '/api/send_message_from_crm', {
      conversation_id: conversationId,
      text,
      ...(attachmentIds.length > 0 ? { attachment_ids: attachmentIds } : {}),
    });
    this.upsertMessage(answer.message, answer.event_id);
    return answer.message;
  }

  async retry(api: Api, messageId: number) {
    const answer = await api.sender<{ message: Message; event_id: number }>('POST', `/api/messages/${messageId}/retry`);
    this.upsertMessage(answer.message, answer.event_id);
  }

  /** After a resync the lists are reloaded; open threads are re-read. */
  async reload(api: Api) {
    await this.loadAccounts(api);
    await this.loadTeam(api);
    await this.loadConversations(api);
    await this.loadCounts(api);
    if (this.selected !== null) await this.open(api, this.selected);
  }
}
