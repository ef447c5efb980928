import { describe, expect, it } from 'vitest';
import type { Message } from './types';
import { left, messagingWindow } from './window';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const HOUR = 3_600_000;

function message(direction: 'in' | 'out', hoursAgo: number): Message {
  return {
    id: hoursAgo,
    conversation_id: 1,
    message_id: null,
    direction,
    text: '',
    attachments: [],
    status: direction === 'in' ? 'received' : 'sent',
    error: null,
    sent_at: new Date(NOW - hoursAgo * HOUR).toISOString(),
    author_user_id: null,
  } as Message;
}

describe("Messenger's window", () => {
  it("is counted from the customer's last message, not the page's", () => {
    expect(messagingWindow(NOW, [message('in', 30), message('in', 2), message('out', 1)], false)).toEqual({
      kind: 'response',
      until: NOW + 22 * HOUR,
    });
  });

  it('turns to human agent after 24 hours and closes after 7 days', () => {
    expect(messagingWindow(NOW, [message('in', 25)], false)).toEqual({ kind: 'human_agent', until: NOW + 143 * HOUR });
    expect(messagingWindow(NOW, [message('in', 24 * 7 + 1)], false)).toEqual({ kind: 'closed', lastWrote: NOW - 169 * HOUR });
  });

  it('is unknown while older messages are not loaded, and closed when the customer never wrote', () => {
    expect(messagingWindow(NOW, [message('out', 1)], false)).toBeNull();
    expect(messagingWindow(NOW, [message('out', 1)], true)).toEqual({ kind: 'closed', lastWrote: null });
  });

  it('says what is left in hours and minutes', () => {
    expect(left(5 * HOUR + 12 * 60_000 + 59_000)).toEqual({ hours: 5, minutes: 12 });
    expect(left(-1)).toEqual({ hours: 0, minutes: 0 });
  });
});
