import { describe, expect, it } from 'vitest';
import { defaultReplyTarget, isCommentThread, postOfThread } from './comments';
import type { Message } from './types';

function message(id: number, direction: 'in' | 'out', deleted = false, platformId: string | null = `c${id}`): Message {
  return {
    id, conversation_id: 1, message_id: platformId, direction, text: 'x', attachments: null, status: direction === 'in' ? 'received' : 'sent',
    error: null, sent_at: '2026-12-07T00:00:00Z', author_user_id: null,
    comment: { post_id: 'p1', parent_id: null, hidden: false, deleted, pending: null, error: null, private: false },
  };
}

describe('comments', () => {
  it('knows a comments thread and its post', () => {
    expect(isCommentThread('comments:123_456:789')).toBe(true);
    expect(isCommentThread('t_123')).toBe(false);
    expect(postOfThread('comments:123_456:789')).toBe('123_456');
    expect(postOfThread('t_123')).toBeNull();
    expect(postOfThread('comments:broken')).toBeNull();
  });

  it('answers the newest comment of the customer still on Facebook', () => {
    expect(defaultReplyTarget([message(1, 'in'), message(2, 'in'), message(3, 'out')])?.id).toBe(2);
    expect(defaultReplyTarget([message(1, 'in'), message(2, 'in', true)])?.id).toBe(1);
    expect(defaultReplyTarget([message(1, 'out')])).toBeNull();
  });
});
