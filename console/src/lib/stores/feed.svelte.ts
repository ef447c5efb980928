// Per-account notifications and posts, kept current by `new_notifications` and `post_status_update`.

import type { Api, PageOf } from '../api';
import type { Notification, Post } from '../types';

function newestFirst<T extends { id: number }>(time: (item: T) => string) {
  return (a: T, b: T) => Date.parse(time(b)) - Date.parse(time(a)) || b.id - a.id;
}

function upsert<T extends { id: number }>(list: T[], item: T, order: (a: T, b: T) => number): T[] {
  const index = list.findIndex((x) => x.id === item.id);
  if (index >= 0) {
    list[index] = item;
    return list;
  }
  return [...list, item].sort(order);
}

const byOccurred = newestFirst<Notification>((n) => n.occurred_at);
const byCreated = newestFirst<Post>((p) => p.created_at);

export class FeedStore {
  notifications = $state<Record<string, Notification[]>>({});
  notificationCursors = $state<Record<string, string | null>>({});
  /** Notifications that arrived live and were not looked at yet, per account. */
  unseen = $state<Record<string, number>>({});
  posts = $state<Record<string, Post[]>>({});

  applyNewNotifications(payload: { user_id_chat?: string; notifications?: Notification[] }) {
    const account = payload.user_id_chat;
    if (!account) return;
    let list = this.notifications[account] ?? [];
    for (const notification of payload.notifications ?? []) list = upsert(list, notification, byOccurred);
    this.notifications[account] = list;
    this.unseen[account] = (this.unseen[account] ?? 0) + (payload.notifications?.length ?? 0);
  }

  markSeen(account: string) {
    this.unseen[account] = 0;
  }

  /** Per post id: the event id it was last shown as of; an older copy (a late answer) is ignored. */
  private versions = new Map<number, number>();

  applyPostStatus(payload: { event_id?: number; post?: Post }) {
    const post = payload.post;
    if (!post) return;
    const version = payload.event_id;
    if (version !== undefined) {
      const known = this.versions.get(post.id);
      if (known !== undefined && known >= version) return;
      this.versions.set(post.id, version);
    }
    this.posts[post.user_id_chat] = upsert(this.posts[post.user_id_chat] ?? [], post, byCreated);
  }

  async loadNotifications(api: Api, account: string, more = false) {
    const cursor = more ? this.notificationCursors[account] : undefined;
    if (more && !cursor) return;
    const page = await api.sender<PageOf<Notification>>('GET', `/api/notifications/${encodeURIComponent(account)}`, undefined, {
      limit: 50,
      cursor,
    });
    let list = more ? (this.notifications[account] ?? []) : [];
    for (const notification of page.items) list = upsert(list, notification, byOccurred);
    if (!more) {
      // Keep live ones newer than the page (they arrived while it was read).
      for (const live of this.notifications[account] ?? []) list = upsert(list, live, byOccurred);
    }
    this.notifications[account] = list;
    this.notificationCursors[account] = page.next_cursor;
  }

  async loadPosts(api: Api, account: string) {
    const page = await api.sender<PageOf<Post>>('GET', `/api/posts/${encodeURIComponent(account)}`, undefined, { limit: 50 });
    let list: Post[] = [];
    for (const post of page.items) list = upsert(list, post, byCreated);
    // Copies shown by events stay: the page may have been read just before the event.
    for (const live of this.posts[account] ?? []) {
      if (this.versions.has(live.id) || !list.some((p) => p.id === live.id)) list = upsert(list, live, byCreated);
    }
    this.posts[account] = list;
  }

  async createPost(api: Api, account: string, content: string, imageUrl: string) {
    const answer = await api.sender<{ post: Post; event_id: number }>('POST', '/api/post_to_facebook', {
      user_id_chat: account,
      content,
      ...(imageUrl.trim() ? { image_url: imageUrl.trim() } : {}),
    });
    this.applyPostStatus(answer);
    return answer.post;
  }

  async retryPost(api: Api, postId: number) {
    const answer = await api.sender<{ post: Post; event_id: number }>('POST', `/api/posts/${postId}/retry`);
    this.applyPostStatus(answer);
  }
}
