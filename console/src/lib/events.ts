// Routes each Socket.IO event to the store it changes. Kept apart from the sockets so tests can feed
// recorded events straight in.

import type { CallsStore } from './stores/calls.svelte';
import type { FeedStore } from './stores/feed.svelte';
import type { InboxStore } from './stores/inbox.svelte';

export interface Stores {
  inbox: InboxStore;
  feed: FeedStore;
  calls: CallsStore;
}

/** Events of the sender's stream (the receiver's events are forwarded there too). */
export const SENDER_EVENTS = [
  'new_messages',
  'new_notifications',
  'bot_register',
  'bot_status',
  'message_status_update',
  'post_status_update',
  'conversation_read',
  'conversation_updated',
  'note_added',
  'labels_changed',
  'access_changed',
  'customers_merged',
] as const;

/** Events of the call center's stream (the seed's guide). */
export const CALL_CENTER_EVENTS = ['incoming_call_to_crm', 'call_answered', 'call_ended', 'agent_status_update', 'callback_updated', 'phone_command_updated'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Payload = any;

export function applySenderEvent(stores: Stores, name: string, payload: Payload) {
  switch (name) {
    case 'new_messages':
      stores.inbox.applyNewMessages(payload);
      break;
    case 'new_notifications':
      stores.feed.applyNewNotifications(payload);
      break;
    case 'bot_register':
    case 'bot_status':
      stores.inbox.applyBotStatus(payload);
      break;
    case 'message_status_update':
      stores.inbox.applyMessageStatus(payload);
      break;
    case 'post_status_update':
      stores.feed.applyPostStatus(payload);
      break;
    case 'conversation_read':
      stores.inbox.applyConversationRead(payload);
      break;
    case 'conversation_updated':
      stores.inbox.applyConversationUpdated(payload);
      break;
    case 'note_added':
      stores.inbox.applyNoteAdded(payload);
      break;
    case 'labels_changed':
      stores.inbox.applyLabelsChanged(payload);
      break;
  }
}

/** Applies a call-center event; for an offer, whether it is shown (not a call already answered or ended). */
export function applyCallCenterEvent(stores: Stores, name: string, payload: Payload): boolean {
  switch (name) {
    case 'incoming_call_to_crm':
      return stores.calls.applyIncoming(payload);
    case 'call_answered':
      stores.calls.applyAnswered(payload);
      break;
    case 'call_ended':
      stores.calls.applyEnded(payload);
      break;
    case 'agent_status_update':
      stores.calls.applyAgentStatus(payload);
      break;
    case 'callback_updated':
      stores.calls.applyCallback(payload);
      break;
  }
  return true;
}

/**
 * Remembers the last event handled on one stream, so a reconnect resumes right after it and an event
 * delivered twice (a replay overlapping a live one) is handled once.
 */
export class Cursor {
  last = 0;

  /**
   * Whether the event is new; records it. Events without an id always pass, and so do `snapshot`
   * events: the call center re-sends the calls ringing now (with their old ids) to a console that joins.
   */
  accept(payload: { event_id?: number } | null | undefined, snapshot = false): boolean {
    const id = payload?.event_id;
    if (typeof id !== 'number') return true;
    if (id <= this.last) return snapshot;
    this.last = id;
    return true;
  }
}
