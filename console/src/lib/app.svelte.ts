// The console's session and live links: logs in and out, holds the stores, and keeps the Socket.IO
// connections to the sender and the call center, resuming each from its last event after a drop.

import { io, type Socket } from 'socket.io-client';
import { Api, ApiError, loadUrls, type Urls } from './api';
import { applyCallCenterEvent, applySenderEvent, CALL_CENTER_EVENTS, Cursor, SENDER_EVENTS } from './events';
import { i18n, t } from './i18n.svelte';
import { Ringtone } from './ringtone';
import { CallsStore } from './stores/calls.svelte';
import { ConnectionStore } from './stores/connection.svelte';
import { FeedStore } from './stores/feed.svelte';
import { InboxStore } from './stores/inbox.svelte';
import type { IncomingCall, User } from './types';

const SESSION_KEY = 'switchboard.session';
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
  private toastId = 0;

  async boot() {
    this.urls = await loadUrls();
    this.api = new Api(this.urls);
    this.api.onUnauthorized = () => this.endSession();
    const saved = readSession();
    if (saved) {
      this.api.token = saved;
      try {
        this.user = await this.api.sender<User>('GET', '/api/auth/me');
        await this.start();
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) {
          // The sender is down: keep the session and retry when it is back.
          this.user = null;
          this.api.token = saved;
          this.retryBoot();
        }
      }
    }
    this.booted = true;
  }

  /** Retries the saved session until the sender answers (the page stays on the login screen meanwhile). */
  private retryBoot() {
    setTimeout(async () => {
      if (this.user || !this.api?.token) return;
      try {
        this.user = await this.api.sender<User>('GET', '/api/auth/me');
        await this.start();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) this.endSession();
        else this.retryBoot();
      }
    }, 2000);
  }

  async login(username: string, password: string) {
    const api = this.api!;
    const answer = await api.sender<{ token: string; user: User }>('POST', '/api/auth/login', { username, password });
    api.token = answer.token;
    writeSession(answer.token);
    this.user = answer.user;
    await this.start();
  }

  async logout() {
    try {
      await this.api?.sender('POST', '/api/auth/logout');
    } catch {
      // Ending it here matters more; the server forgets it at expiry anyway.
    }
    this.endSession();
  }

  private endSession() {
    this.stop();
    writeSession(null);
    if (this.api) this.api.token = null;
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
      this.toast(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  private async start() {
    const api = this.api!;
    this.connectSender();
    this.connectCallCenter();
    this.checkReceiver();
    this.healthTimer = setInterval(() => this.checkReceiver(), HEALTH_EVERY_MS);
    await Promise.all([
      this.attempt(() => this.inbox.loadAccounts(api).then(() => this.inbox.loadConversations(api))),
      this.attempt(() => this.calls.loadMe(api)),
      this.attempt(() => this.calls.loadAgents(api)),
      this.attempt(() => this.calls.loadLog(api)),
    ]);
    await this.attempt(() => this.calls.loadConnected(api));
  }

  private stop() {
    this.senderSocket?.disconnect();
    this.callSocket?.disconnect();
    this.senderSocket = this.callSocket = null;
    this.senderCursor = new Cursor();
    this.callCursor = new Cursor();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
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
      // A function: every reconnect sends the cursor as it is then, so the server replays what we missed.
      auth: (cb) => cb({ token: api.token, ...(this.senderCursor.last ? { last_event_id: this.senderCursor.last } : {}) }),
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
    socket.on('disconnect', () => {
      this.connection.sender = 'down';
    });
    socket.on('connect_error', (error) => {
      this.connection.sender = 'down';
      if (/token|authentication/i.test(error.message)) void this.checkSession();
    });
    socket.on('resync_required', () => {
      void this.attempt(() => this.inbox.reload(api));
    });
    for (const name of SENDER_EVENTS) {
      socket.on(name, (payload) => {
        if (!this.senderCursor.accept(payload)) return;
        applySenderEvent(this, name, payload);
        if (name === 'new_messages') this.onNewMessages(payload);
      });
    }
  }

  private connectCallCenter() {
    const api = this.api!;
    const socket = io(this.urls!.callcenter, {
      auth: (cb) =>
        cb({ token: api.token, lang: i18n.locale, ...(this.callCursor.last ? { last_event_id: this.callCursor.last } : {}) }),
      reconnectionDelayMax: 5000,
    });
    this.callSocket = socket;
    socket.on('connect', () => {
      this.connection.callcenter = 'up';
      this.calls.clearRinging();
      socket.emit('join_call_center', {
        userType: this.calls.me ? 'agent' : 'crm_system',
        userId: this.user?.username ?? 'console',
        clientInfo: { app: 'switchboard-console', language: i18n.locale },
      });
      void this.attempt(() => this.calls.loadAgents(api));
      void this.attempt(() => this.calls.loadConnected(api));
    });
    socket.on('disconnect', () => {
      this.connection.callcenter = 'down';
    });
    socket.on('connect_error', (error) => {
      this.connection.callcenter = 'down';
      if (/token|authentication/i.test(error.message)) void this.checkSession();
    });
    socket.on('resync_required', () => {
      void this.attempt(() => this.calls.loadLog(api));
    });
    for (const name of CALL_CENTER_EVENTS) {
      socket.on(name, (payload) => {
        // Snapshots of ringing calls (after joining) carry an old event id: take them as they come.
        if (name !== 'incoming_call_to_crm' && !this.callCursor.accept(payload)) return;
        if (name === 'incoming_call_to_crm' && typeof payload?.event_id === 'number') {
          this.callCursor.last = Math.max(this.callCursor.last, payload.event_id);
        }
        applyCallCenterEvent(this, name, payload);
        if (name === 'incoming_call_to_crm') this.notifyIncoming(payload);
        if (name === 'call_ended' || name === 'call_answered') void this.attempt(() => this.calls.loadLog(api));
        if (name !== 'agent_status_update') void this.attempt(() => this.calls.loadAgents(api));
      });
    }
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
          this.toast(error.message);
          resolve(false);
        } else if (!answer?.success) {
          this.toast(answer?.error?.message ?? 'error');
          resolve(false);
        } else resolve(true);
      });
    });
  }

  private async checkSession() {
    try {
      await this.api?.sender('GET', '/api/auth/me');
    } catch {
      // A 401 ends the session through onUnauthorized; anything else is the server being away.
    }
  }

  private onNewMessages(payload: { messages?: { conversation_id: number; direction: string }[] }) {
    const open = this.inbox.selected;
    if (open === null || !globalThis.document || document.visibilityState !== 'visible') return;
    if (payload.messages?.some((m) => m.conversation_id === open && m.direction === 'in')) {
      void this.attempt(() => this.inbox.markRead(this.api!, open));
    }
  }

  private notifyIncoming(call: IncomingCall) {
    if (!this.calls.isMine(call) || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      // Notification text is never HTML, so the caller's data is safe in it.
      new Notification(t('calls.incoming'), {
        body: [call.callerNumber, call.customerInfo?.fullName].filter(Boolean).join(' · '),
        tag: call.callId,
        icon: '/favicon.svg',
      });
    } catch {
      // Some browsers only allow notifications from a service worker; the popup and ringtone remain.
    }
  }
}

function readSession(): string | null {
  try {
    return localStorage.getItem(SESSION_KEY);
  } catch {
    return null;
  }
}

function writeSession(token: string | null) {
  try {
    if (token) localStorage.setItem(SESSION_KEY, token);
    else localStorage.removeItem(SESSION_KEY);
  } catch {
    // Not remembered across reloads; the session still works in this page.
  }
}
