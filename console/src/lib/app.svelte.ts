// The console's session and live links: logs in and out, holds the stores, and keeps the Socket.IO
// connections to the sender and the call center, resuming each from its last event after a drop.

import { io, type Socket } from 'socket.io-client';
import { Api, ApiError, loadUrls, type Urls } from './api';
import { applyCallCenterEvent, applySenderEvent, CALL_CENTER_EVENTS, Cursor, SENDER_EVENTS } from './events';
import { i18n, t, tv } from './i18n.svelte';
import { Ringtone } from './ringtone';
import { router } from './router.svelte';
import { isolated } from './safe';
import { CallsStore } from './stores/calls.svelte';
import { ConnectionStore } from './stores/connection.svelte';
import { FeedStore } from './stores/feed.svelte';
import { InboxStore } from './stores/inbox.svelte';
import type { Conversation, IncomingCall, Note, User } from './types';

/** How soon after a change the tabs' counts are read again. */
const COUNTS_AFTER_MS = 500;

/** Where versions before the cookie-only session kept the token; removed at start. */
const STALE_SESSION_KEY = 'switchboard.session';
const HEALTH_EVERY_MS = 5000;

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

export class ConsoleApp {
  api: Api | null = null;
  urls: Urls | null = null;
  user = $state<User | null>(null);

  /** Supervisors and admins: they watch the floor, read reports and act for others. */
  get supervises(): boolean {
    return this.user?.role === 'admin' || this.user?.role === 'supervisor';
  }
  /** The last merge of customers the stream told of (`customers_merged`). */
  lastMerge = $state<{ customerId: number; mergedIds: number[] } | null>(null);
  booted = $state(false);
  toasts = $state<Toast[]>([]);

  inbox = new InboxStore();
  feed = new FeedStore();
  calls = new CallsStore();
  connection = new ConnectionStore();
  ringtone = new Ringtone();

  private senderSocket: Socket | null = null;
  private callSocket: Socket | null = null;
  private senderCursor = new Cursor();
  private callCursor = new Cursor();
  private healthTimer: ReturnType<typeof setInterval> | null = null;
  private started = false;
  private toastId = 0;

  async boot() {
    forgetStaleSession();
    this.urls = await loadUrls();
    this.api = new Api(this.urls);
    this.api.onUnauthorized = () => this.endSession();
    this.resuming = true;
    await this.resume();
    this.booted = true;
  }

  /** Set while the page looks for a session it may already have (a reload): no login has happened. */
  private resuming = false;

  /**
   * Continues the browser's session, if its cookie still holds one: `GET /api/auth/me` says who it is,
   * a 401 shows the login. While the sender is away the page stays on the login screen and this tries
   * again every 2 s, until it answers or the user logs in.
   */
  private async resume() {
    try {
      const user = await this.me();
      if (!this.resuming) return;
      this.resuming = false;
      this.api!.loggedIn = true;
      this.user = user;
      await this.start();
    } catch (error) {
      // Only an unreachable or failing server is worth asking again; any other answer is final.
      const unreachable = !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
      if (!unreachable) {
        this.resuming = false;
        return;
      }
      setTimeout(() => {
        if (this.resuming && !this.user) void this.resume();
      }, 2000);
    }
  }

  /** Who the session is: `GET /api/auth/me` (with the cookie) answers `{kind: "user", user}`. */
  private async me(): Promise<User> {
    const answer = await this.api!.sender<{ kind: string; user?: User }>('GET', '/api/auth/me');
    if (!answer.user) throw new ApiError(403, 'forbidden', 'not a console user');
    return answer.user;
  }

  /**
   * Logs in. The answer's token is for API clients and is not kept: the session is the HttpOnly cookie
   * the answer sets, and `/api/auth/me` confirms that the browser kept it and sends it.
   */
  async login(username: string, password: string) {
    const api = this.api!;
    this.resuming = false;
    await api.sender<{ user: User }>('POST', '/api/auth/login', { username, password });
    let user: User;
    try {
      user = await this.me();
    } catch (error) {
      // Logged in, yet the next request has no session: the browser refused the cookie.
      if (error instanceof ApiError && error.status === 401) throw new Error(t('login.noCookie'));
      throw error;
    }
    api.loggedIn = true;
    this.user = user;
    await this.start();
  }

  async logout() {
    try {
      await this.api?.sender('POST', '/api/auth/logout');
    } catch (error) {
      // Only the server can end the session (the page cannot touch the HttpOnly cookie): when it did
      // not, the agent is told and stays logged in, rather than leave a live session behind. A 401
      // means it had ended already.
      if (!(error instanceof ApiError && error.status === 401)) {
        this.toast(describe(error));
        return;
      }
    }
    this.endSession();
  }

  private endSession() {
    this.stop();
    if (this.api) this.api.loggedIn = false;
    this.user = null;
    this.inbox = new InboxStore();
    this.feed = new FeedStore();
    this.calls = new CallsStore();
  }

  toast(text: string, kind: Toast['kind'] = 'error') {
    const id = ++this.toastId;
    this.toasts.push({ id, kind, text });
    setTimeout(() => this.dismiss(id), kind === 'error' ? 8000 : 4000);
  }

  dismiss(id: number) {
    this.toasts = this.toasts.filter((toast) => toast.id !== id);
  }

  /** Runs an action, showing its error (the server's message names the problem) instead of throwing. */
  async attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      return await action();
    } catch (error) {
      this.toast(describe(error));
      return undefined;
    }
  }

  private async start() {
    if (this.started) return;
    this.started = true;
    const api = this.api!;
    // Both streams start from the log's head as it is now, read before any list: whatever happens
    // between the lists' reads and the sockets' handshakes is replayed, not lost. The user's own agent
    // is known before the first offer arrives (it decides which calls ring here).
    const [head] = await Promise.all([this.logHead(), this.attempt(() => this.calls.loadMe(api))]);
    this.senderCursor.last = head;
    this.callCursor.last = head;
    this.connectSender();
    this.connectCallCenter();
    this.checkReceiver();
    this.healthTimer = setInterval(() => this.checkReceiver(), HEALTH_EVERY_MS);
    // Agents and calls in progress are read by the call center's `connect`, at every (re)connection.
    this.inbox.me = this.user?.id ?? null;
    await this.attempt(() => this.inbox.loadAccounts(api).then(() => this.inbox.loadConversations(api)));
    await this.attempt(() => this.inbox.loadTeam(api));
    await this.attempt(() => this.inbox.loadCounts(api));
  }

  private countsTimer: ReturnType<typeof setTimeout> | undefined;

  /** Reads the tabs' counts again soon: once for a burst of events, not once per event. */
  private scheduleCounts() {
    if (this.countsTimer !== undefined) return;
    this.countsTimer = setTimeout(() => {
      this.countsTimer = undefined;
      if (this.api && this.user) void this.attempt(() => this.inbox.loadCounts(this.api!));
    }, COUNTS_AFTER_MS);
  }

  /** Tells the user what concerns them: a note that mentions them, a snooze of theirs that ended. */
  private onTeamwork(
    name: 'conversation_updated' | 'note_added',
    payload: { reason?: string; conversation?: Conversation; note?: Note },
  ) {
    const me = this.user?.id;
    if (me === undefined) return;
    if (name === 'note_added' && payload.note?.mentions.includes(me) && payload.note.author_user_id !== me) {
      const who = this.inbox.conversations[payload.note.conversation_id]?.participant_name ?? '';
      this.toast(t('team.mentioned', { author: payload.note.author_name, customer: who }), 'info');
    }
    const conversation = payload.conversation;
    if (name === 'conversation_updated' && payload.reason === 'snooze_ended' && conversation?.assignee_user_id === me) {
      this.toast(t('team.snoozeEnded', { customer: conversation.participant_name }), 'info');
    }
  }

  /** The last event id of the log (every role's `/healthz` says it), or 0 when it cannot be read. */
  private async logHead(): Promise<number> {
    try {
      const health = await fetch(`${this.urls!.callcenter}/healthz`, { cache: 'no-store' }).then((r) => r.json());
      return typeof health?.last_event_id === 'number' ? health.last_event_id : 0;
    } catch {
      return 0;
    }
  }

  private stop() {
    this.started = false;
    this.senderSocket?.disconnect();
    this.callSocket?.disconnect();
    this.senderSocket = this.callSocket = null;
    this.senderCursor = new Cursor();
    this.callCursor = new Cursor();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    clearTimeout(this.countsTimer);
    this.countsTimer = undefined;
    this.ringtone.stop();
  }

  private async checkReceiver() {
    try {
      const response = await fetch(`${this.urls!.receiver}/healthz`, { cache: 'no-store' });
      this.connection.receiver = response.ok ? 'up' : 'down';
    } catch {
      this.connection.receiver = 'down';
    }
  }

  private connectSender() {
    const api = this.api!;
    const socket = io(this.urls!.sender, {
      // The session cookie authenticates the handshake (sent cross-origin too, with credentials).
      withCredentials: true,
      // A function: every reconnect sends the cursor as it is then, so the server replays what we missed.
      auth: (cb) => cb(this.senderCursor.last ? { last_event_id: this.senderCursor.last } : {}),
      reconnectionDelayMax: 5000,
    });
    this.senderSocket = socket;
    let everConnected = false;
    socket.on('connect', () => {
      this.connection.sender = 'up';
      if (everConnected) {
        // Lists may have changed in ways events do not carry (an account added): read them again.
        void this.attempt(() => this.inbox.loadAccounts(api));
      }
      everConnected = true;
    });
    socket.on('disconnect', (reason) => {
      this.connection.sender = 'down';
      if (reason === 'io server disconnect') this.revive(socket);
    });
    socket.on('connect_error', () => {
      this.connection.sender = 'down';
      if (!socket.active) this.revive(socket);
    });
    socket.on('resync_required', () => {
      void this.attempt(() => this.inbox.reload(api));
    });
    for (const name of SENDER_EVENTS) {
      socket.on(name, (payload) => {
        if (!this.senderCursor.accept(payload)) return;
        applySenderEvent(this, name, payload);
        if (name === 'new_messages') this.onNewMessages(payload);
        if (name === 'conversation_updated' || name === 'note_added') this.onTeamwork(name, payload);
        if (name === 'new_messages' || name === 'conversation_updated') this.scheduleCounts();
        // A renamed or deleted label: the lists show names, read them again.
        if (name === 'labels_changed') void this.attempt(() => this.inbox.loadConversations(api));
        // Customers were merged: a screen showing one that is gone opens the survivor.
        if (name === 'customers_merged') this.lastMerge = { customerId: payload.customer_id, mergedIds: payload.merged_ids ?? [] };
        // Pages were granted or taken away: read the accounts again and drop what is no longer ours.
        if (name === 'access_changed') {
          void this.attempt(async () => {
            await this.inbox.loadAccounts(api);
            this.inbox.forgetHiddenAccounts();
            await this.inbox.reload(api);
          });
        }
      });
    }
  }

  private connectCallCenter() {
    const api = this.api!;
    const socket = io(this.urls!.callcenter, {
      withCredentials: true,
      auth: (cb) => cb({ lang: i18n.locale, ...(this.callCursor.last ? { last_event_id: this.callCursor.last } : {}) }),
      reconnectionDelayMax: 5000,
    });
    this.callSocket = socket;
    socket.on('connect', () => {
      this.connection.callcenter = 'up';
      this.calls.events++;
      this.calls.clearRinging();
      this.joinCallCenter();
      void this.attempt(() => this.calls.loadAgents(api));
      void this.attempt(() => this.calls.loadConnected(api));
      void this.attempt(() => this.calls.loadOutcomeCodes(api));
    });
    socket.on('disconnect', (reason) => {
      this.connection.callcenter = 'down';
      if (reason === 'io server disconnect') this.revive(socket);
    });
    socket.on('connect_error', () => {
      this.connection.callcenter = 'down';
      if (!socket.active) this.revive(socket);
    });
    socket.on('resync_required', () => {
      this.calls.changes++;
      this.calls.events++;
      void this.attempt(() => this.calls.loadConnected(api));
    });
    for (const name of CALL_CENTER_EVENTS) {
      socket.on(name, (payload) => {
        if (!this.callCursor.accept(payload, name === 'incoming_call_to_crm')) return;
        const accepted = applyCallCenterEvent(this, name, payload);
        this.calls.events++;
        const command = name === 'phone_command_updated' ? payload?.command : undefined;
        if (command?.status === 'failed' && (command.agentId === this.calls.me?.id || (!this.calls.me && this.supervises))) {
          this.toast(t('phone.failed', { kind: tv('phone.kind', String(command.kind)), error: String(command.lastError ?? '') }));
        }
        if (name === 'agent_status_update' && payload?.reason === 'max_no_answer' && this.supervises) {
          this.toast(t('floor.maxNoAnswer', { name: String(payload.agentName ?? ''), count: Number(payload.ringOutsInRow ?? 0) }), 'info');
        }
        if (name === 'incoming_call_to_crm' && accepted) this.notifyIncoming(payload);
        // Agents' states (ringing, on a call) change with calls and have no event: read again, at most
        // twice a second. (The call log is read by the screen that shows it.)
        if (name !== 'agent_status_update') this.refreshAgents();
      });
    }
  }

  /** Joins (again, after a reconnect or a change of language: the server's messages follow it). */
  joinCallCenter() {
    this.callSocket?.emit('join_call_center', {
      userType: this.calls.me ? 'agent' : 'crm_system',
      userId: this.user?.username ?? 'console',
      lang: i18n.locale,
      clientInfo: { app: 'switchboard-console' },
    });
  }

  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  private refreshAgents() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const api = this.api;
      if (api && this.started) void this.attempt(() => this.calls.loadAgents(api));
    }, 500);
  }

  /** Answers or ends through the call center's socket, as the seed's page does; errors become toasts. */
  callAction(event: 'answer_call' | 'end_call', payload: Record<string, unknown>): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = this.callSocket;
      if (!socket?.connected) {
        this.toast(t('conn.down'));
        resolve(false);
        return;
      }
      socket.timeout(10000).emit(event, payload, (error: Error | null, answer: { success: boolean; error?: { message?: string } }) => {
        if (error) {
          this.toast(t('conn.timeout'));
          resolve(false);
        } else if (!answer?.success) {
          this.toast(answer?.error?.message ?? t('common.error'));
          resolve(false);
        } else resolve(true);
      });
    });
  }

  /**
   * socket.io-client gives up when the server closes the connection or refuses the handshake (a
   * session re-checked and found expired, the database briefly unavailable). The session decides: a
   * 401 ends it (through onUnauthorized); otherwise the socket tries again, resuming from its cursor.
   */
  private revive(socket: Socket) {
    setTimeout(async () => {
      if (!this.started || socket.connected) return;
      try {
        await this.api?.sender('GET', '/api/auth/me');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return;
      }
      if (this.started && !socket.connected) socket.connect();
    }, 1000 + Math.random() * 2000);
  }

  private onNewMessages(payload: { messages?: { conversation_id: number; direction: string }[] }) {
    const open = this.inbox.selected;
    if (open === null || router.route !== 'inbox' || !globalThis.document || !document.hasFocus()) return;
    if (payload.messages?.some((m) => m.conversation_id === open && m.direction === 'in')) {
      void this.attempt(() => this.inbox.markRead(this.api!, open));
    }
  }

  private notifyIncoming(call: IncomingCall) {
    if (!this.calls.isMine(call) || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      // Notification text is never HTML, so the caller's data is safe in it once its bidi controls are.
      new Notification(t('calls.incoming'), {
        body: [call.callerNumber, call.customerInfo?.fullName].filter(Boolean).map(isolated).join(' · '),
        tag: call.callId,
        icon: '/favicon.svg',
      });
    } catch {
      // Some browsers only allow notifications from a service worker; the popup and ringtone remain.
    }
  }
}

/** An error as the agent should read it: the server's own message, or ours for a network failure. */
export function describe(error: unknown): string {
  if (error instanceof ApiError && error.code === 'network') return t('conn.unreachable');
  return error instanceof Error ? error.message : String(error);
}

/** Older versions kept the session token in localStorage, where any script could read it: gone. */
function forgetStaleSession() {
  try {
    localStorage.removeItem(STALE_SESSION_KEY);
  } catch {
    // Storage is off: nothing was kept there either.
  }
}
