// Comments under a page's posts: each customer's comments under a post are one conversation whose
// thread is `comments:<post>:<author>` (the server's domain::comments::thread_of).

import type { Message } from './types';

export function isCommentThread(threadId: string | undefined | null): boolean {
  return !!threadId && threadId.startsWith('comments:');
}

/** The post a comments thread is under, or null for any other thread. */
export function postOfThread(threadId: string | undefined | null): string | null {
  if (!isCommentThread(threadId)) return null;
  const rest = threadId!.slice('comments:'.length);
  const cut = rest.lastIndexOf(':');
  return cut > 0 ? rest.slice(0, cut) : null;
}

/** The comment an answer goes under by default: the customer's newest one still on Facebook. */
export function defaultReplyTarget(messages: Message[]): Message | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message.direction === 'in' && message.comment && !message.comment.deleted && message.message_id) return message;
  }
  return null;
}
