// The call center as the console sees it: calls ringing, calls in progress, agents, and the call log.
// `apply*` are the Socket.IO events of the seed's guide; pure state changes, unit-tested.

import type { Api, PageOf } from '../api';
import type { Agent, AgentStatus, CallRecord, Callback, Customer, IncomingCall, OutcomeCode } from '../types';

export interface ActiveCall {
  callId: string;
  callerNumber: string;
  /** Who talks: looked up in `agents` when shown, so it is right whichever list arrived first. */
  agentId: number | null;
  customer: Customer | null;
  /** When the talking started (the event's time): the timer counts from here. */
  answeredAt: number;
}

export interface CallAnsweredEvent {
  call?: { callId: string; status?: string; agentInfo?: Agent | null; customerInfo?: Customer | null };
  at?: string;
}

export interface CallEndedEvent {
  callId?: string;
  endReason?: string;
  duration?: number;
}

export class CallsStore {
  ringing = $state<Record<string, IncomingCall>>({});
  /** Missed calls to return, the latest missed first. */
  callbacks = $state<Callback[]>([]);
  active = $state<Record<string, ActiveCall>>({});
  agents = $state<Record<number, Agent>>({});
  log = $state<CallRecord[]>([]);
  logCursor = $state<string | null>(null);
  /** Calls that ended while this console watched: a replay or snapshot never shows them again. */
  private ended = new Set<string>();
  /** Counts call events: screens that show the log read it again when this changes. */
  changes = $state(0);
  /** Counts every call-center event and reconnect: the live floor reads itself again when this changes. */
  events = $state(0);
  outcomeCodes = $state<OutcomeCode[]>([]);
  /** The console user's own agent, if they are one. */
  me = $state<Agent | null>(null);

  ringingList = $derived(Object.values(this.ringing).sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime)));
  activeList = $derived(Object.values(this.active).sort((a, b) => a.answeredAt - b.answeredAt));
  agentList = $derived(Object.values(this.agents).sort((a, b) => a.fullName.localeCompare(b.fullName)));

  /** Shows an offer; false for a call already answered or ended (a replay or a snapshot after a reconnect). */
  applyIncoming(call: IncomingCall): boolean {
    if (!call?.callId || this.active[call.callId] || this.ended.has(call.callId)) return false;
    this.ringing[call.callId] = call;
    this.changes++;
    return true;
  }

  applyAnswered(event: CallAnsweredEvent, now = Date.now()) {
    const call = event.call;
    if (!call?.callId) return;
    const ringing = this.ringing[call.callId];
    delete this.ringing[call.callId];
    const at = event.at ? Date.parse(event.at) : NaN;
    this.active[call.callId] = {
      callId: call.callId,
      callerNumber: ringing?.callerNumber ?? this.log.find((c) => c.callId === call.callId)?.callerNumber ?? '',
      agentId: call.agentInfo?.id ?? null,
      customer: call.customerInfo ?? ringing?.customerInfo ?? null,
      answeredAt: Number.isNaN(at) ? now : at,
    };
    this.changes++;
  }

  applyEnded(event: CallEndedEvent) {
    if (!event.callId) return;
    delete this.ringing[event.callId];
    delete this.active[event.callId];
    this.ended.add(event.callId);
    this.changes++;
  }

  applyAgentStatus(event: { agentId?: number; agentName?: string; status?: AgentStatus }) {
    if (event.agentId === undefined || !event.status) return;
    const agent = this.agents[event.agentId];
    if (agent) agent.status = event.status;
    else this.agents[event.agentId] = { id: event.agentId, userId: null, fullName: event.agentName ?? `#${event.agentId}`, status: event.status, state: 'idle', extension: null };
    if (this.me?.id === event.agentId) this.me = { ...this.me, status: event.status };
  }

  /** Calls this console user should act on: the ones ringing at them, or any when they are not an agent. */
  isMine(call: IncomingCall): boolean {
    return !this.me || !call.assignedAgent || call.assignedAgent.id === this.me.id;
  }

  /** A reconnect: `joined_call_center` re-offers every ringing call, so the popups start from it. */
  clearRinging() {
    this.ringing = {};
  }

  setAgents(agents: Agent[]) {
    const next: Record<number, Agent> = {};
    for (const agent of agents) next[agent.id] = agent;
    this.agents = next;
    if (this.me) this.me = next[this.me.id] ?? this.me;
  }

  async loadAgents(api: Api) {
    this.setAgents(await api.callcenter<Agent[]>('GET', '/api/agents/status'));
  }

  async loadMe(api: Api) {
    try {
      this.me = await api.callcenter<Agent>('GET', '/api/agents/me');
    } catch {
      this.me = null;
    }
  }

  /** The call log's filter, kept here so a reload after a call event keeps what the agent chose. */
  logFilter = $state<{ missed: boolean; number: string }>({ missed: false, number: '' });
  private logRequest = 0;
  /** Whether the agent loaded pages beyond the first: a refresh then keeps them. */
  private extraPages = false;

  /** The first page again (`more`: the next page; `reset`: the filter changed, start over). */
  async loadLog(api: Api, more = false, reset = false) {
    const request = ++this.logRequest;
    const page = await api.callcenter<PageOf<CallRecord>>('GET', '/api/calls', undefined, {
      limit: 50,
      missed: this.logFilter.missed || undefined,
      number: this.logFilter.number.replace(/\D/g, '') || undefined,
      cursor: more ? (this.logCursor ?? undefined) : undefined,
    });
    if (request !== this.logRequest) return; // a newer request was made meanwhile
    if (reset) this.extraPages = false;
    if (more) {
      this.log = [...this.log, ...page.items.filter((c) => !this.log.some((l) => l.callId === c.callId))];
      this.logCursor = page.next_cursor;
      this.extraPages = true;
    } else if (this.extraPages) {
      const fresh = new Set(page.items.map((c) => c.callId));
      this.log = [...page.items, ...this.log.filter((c) => !fresh.has(c.callId))];
    } else {
      this.log = page.items;
      this.logCursor = page.next_cursor;
    }
  }

  /** Reconciles the calls in progress with the server: its connected calls shown, the others dropped. */
  async loadConnected(api: Api) {
    const page = await api.callcenter<PageOf<CallRecord>>('GET', '/api/calls', undefined, {
      limit: 100,
      ...(this.me ? { agentId: this.me.id } : {}),
    });
    this.applyConnected(page.items);
  }

  applyConnected(calls: CallRecord[]) {
    for (const call of calls) {
      if (call.status === 'connected') {
        if (!this.active[call.callId] && !this.ended.has(call.callId)) {
          this.active[call.callId] = {
            callId: call.callId,
            callerNumber: call.callerNumber,
            agentId: call.answeredBy,
            customer: null,
            answeredAt: call.answeredAt ? Date.parse(call.answeredAt) : Date.now(),
          };
        }
      } else if (this.active[call.callId]) {
        delete this.active[call.callId];
      }
    }
  }

  async setStatus(api: Api, agentId: number, status: AgentStatus) {
    const agent = await api.callcenter<Agent>('PUT', `/api/agents/${agentId}/status`, { status });
    this.agents[agent.id] = agent;
    if (this.me?.id === agent.id) this.me = agent;
    return agent;
  }

  async setMyStatus(api: Api, status: AgentStatus) {
    if (this.me) await this.setStatus(api, this.me.id, status);
  }

  /** Calls from numbers containing these digits, newest first (a caller's or customer's history). */
  /** The outcome codes (retired ones too: old calls name them). */
  async loadOutcomeCodes(api: Api) {
    this.outcomeCodes = await api.callcenter<OutcomeCode[]>('GET', '/api/call-outcomes');
  }

  /** The label of an outcome code, or the code itself when it is unknown. */
  outcomeLabel(code: string): string {
    return this.outcomeCodes.find((c) => c.code === code)?.label ?? code;
  }

  /** Records what came of a call; the log shows it at once. */
  async setOutcome(api: Api, callId: string, code: string, note: string): Promise<CallRecord> {
    const call = await api.callcenter<CallRecord>('POST', `/api/calls/${encodeURIComponent(callId)}/outcome`, { code, note });
    this.log = this.log.map((c) => (c.callId === call.callId ? call : c));
    return call;
  }

  async loadCallbacks(api: Api) {
    this.callbacks = await api.callcenter<Callback[]>('GET', '/api/callbacks', undefined, { status: 'open', limit: 200 });
  }

  /** A task opened, joined by another missed call, or closed (`callback_updated`). */
  applyCallback(payload: { callback?: Callback }) {
    const task = payload.callback;
    if (!task) return;
    const others = this.callbacks.filter((c) => c.id !== task.id);
    this.callbacks = task.status === 'open'
      ? [task, ...others].sort((a, b) => Date.parse(b.lastMissedAt) - Date.parse(a.lastMissedAt) || b.id - a.id)
      : others;
  }

  async history(api: Api, number: string, limit: number): Promise<CallRecord[]> {
    const digits = number.replace(/\D/g, '');
    if (digits.length < 3) return [];
    return (await api.callcenter<PageOf<CallRecord>>('GET', '/api/calls', undefined, { number: digits, limit })).items;
  }
}
