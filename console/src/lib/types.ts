// The wire shapes the console reads (docs/protocol.md).

export type Role = 'admin' | 'supervisor' | 'agent';

export interface User {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  disabled: boolean;
  created_at: string;
}

export type BotStatus = 'online' | 'offline' | 'error' | 'needs_login' | 'rate_limited';

export interface Account {
  id: number;
  user_id_chat: string;
  name: string;
  kind: 'page' | 'personal';
  enabled: boolean;
  bot_status: BotStatus;
  bot_status_message: string | null;
  needs_login: boolean;
  bot_seen_at: string | null;
  credentials: Record<string, boolean>;
  /** How its conversations are shared out (absent from servers before automatic assignment). */
  assignment?: Assignment;
  /** A page's comments holding a phone number are hidden as they arrive. */
  hide_phone_comments?: boolean;
}

/** Automatic assignment of an account's conversations. */
export interface Assignment {
  auto: boolean;
  /** Most open conversations one agent is given. */
  limit: number;
  /** An agent offline for a minute hands their open conversations back to the queue. */
  return_when_offline: boolean;
}

export interface Conversation {
  id: number;
  user_id_chat: string;
  thread_id: string;
  participant_id: string;
  participant_name: string;
  last_message_text: string;
  last_message_direction: string | null;
  last_message_at: string | null;
  unread_count: number;
  status: ConversationStatus;
  /** The user who owns it; null while it waits in the queue. */
  assignee_user_id: number | null;
  snoozed_until: string | null;
  /** Its labels' names. */
  labels: string[];
  /** In answers to a search typed with accents: whether it has the words as typed (these come first). */
  exact_match?: boolean;
  /** For comments under a post: the Messenger conversation a private reply opened with their author. */
  linked_conversation_id?: number | null;
}

export type ConversationStatus = 'open' | 'pending' | 'snoozed' | 'resolved';

/** A team of users, granted access to pages together. */
export interface Team {
  id: number;
  name: string;
  member_ids: number[];
}

/** Who may see a page: `restricted: false` means every user. */
export interface Access {
  user_id_chat: string;
  restricted: boolean;
  user_ids: number[];
  team_ids: number[];
}

export interface Label {
  id: number;
  name: string;
  /** `#rrggbb`. */
  color: string;
}

/** A private note: the team sees it in the thread; the customer and the bot never do. */
export interface Note {
  id: number;
  conversation_id: number;
  author_user_id: number | null;
  author_name: string;
  text: string;
  mentions: number[];
  created_at: string;
}

/** Who is on the team (`GET /api/team`). */
export interface Member {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  /** A console of theirs is connected. */
  online?: boolean;
}

/** A reply agents insert by typing `/` and its shortcut. */
export interface CannedResponse {
  id: number;
  shortcut: string;
  text: string;
  /** The team whose members it is offered to; `null`: everyone's. */
  team_id: number | null;
}

/** The tabs' counts (`GET /api/inbox/counts`). */
export interface ConversationCounts {
  mine: number;
  unassigned: number;
  all: number;
}

export interface Attachment {
  type: string;
  url?: string;
  name?: string;
  [key: string]: unknown;
}

export type MessageStatus = 'received' | 'queued' | 'sent' | 'failed';

export interface Message {
  id: number;
  conversation_id: number;
  message_id: string | null;
  direction: 'in' | 'out';
  text: string;
  attachments: Attachment[] | null;
  status: MessageStatus;
  error: string | null;
  sent_at: string;
  author_user_id: number | null;
  /** For a comment under a post (or the page's answer to one). */
  comment?: CommentState;
}

export type Moderation = 'hide' | 'unhide' | 'delete';

/** What a comment has that a message has not. */
export interface CommentState {
  post_id: string;
  /** The platform id of the comment it answers. */
  parent_id: string | null;
  hidden: boolean;
  deleted: boolean;
  pending: Moderation | null;
  error: string | null;
  /** An answer sent privately, in Messenger. */
  private?: boolean;
}

/** What a post says (`GET /api/feed_posts/{page}/{post}`). */
export interface FeedPost {
  post_id: string;
  text: string;
  picture: string | null;
  permalink: string | null;
}

export interface Notification {
  id: number;
  notification_id: string;
  kind: string;
  text: string;
  link: string | null;
  occurred_at: string;
}

export interface Post {
  id: number;
  user_id_chat: string;
  content: string;
  image_url?: string | null;
  status: 'queued' | 'posted' | 'failed';
  platform_post_id: string | null;
  link: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  author_user_id: number | null;
}

export type AgentStatus = 'available' | 'busy' | 'away' | 'offline';

export interface Agent {
  id: number;
  userId: number | null;
  fullName: string;
  status: AgentStatus;
  state: string;
  extension: string | null;
  queues?: string[];
}

export interface Customer {
  id: number;
  fullName: string;
  phoneNumber: string | null;
  phoneNumbers: string[];
  email: string | null;
  /** Every email, the main one first (older servers send only `email`). */
  emails?: string[];
  cif: string | null;
  notes: string | null;
  conversationIds: number[];
  /** Values of the fields admins define, by key. */
  customFields?: Record<string, string | number>;
}

export type CustomFieldKind = 'text' | 'number' | 'date' | 'choice';

/** A field admins add to every customer (`/api/customer-fields`). */
export interface CustomField {
  id: number;
  key: string;
  label: string;
  kind: CustomFieldKind;
  choices: string[];
  position: number;
}

/** Two customers likely the same person, and what they share. */
export interface DuplicatePair {
  customer: Customer;
  other: Customer;
  reasons: { kind: 'phone' | 'email' | 'facebook'; value: string }[];
}

/** What an import of a CSV file did, or would do. */
export interface ImportReport {
  rows: number;
  imported: number;
  committed: boolean;
  duplicates: { line: number; number: string; customerId?: number; sameAsLine?: number; imported: boolean }[];
  refused: { line: number; reason: string }[];
  ignoredColumns: string[];
}

export interface IncomingCall {
  callId: string;
  callerNumber: string;
  calledNumber: string;
  assignedAgent: Agent | null;
  customerInfo: Customer | null;
  startTime: string;
  status: string;
  source?: string;
  queue?: string | null;
  event_id?: number;
}

export interface CallRecord {
  callId: string;
  direction: string;
  callerNumber: string;
  calledNumber: string;
  queue: string | null;
  source: string | null;
  status: string;
  customerId: number | null;
  offeredAgentId: number | null;
  answeredBy: number | null;
  startTime: string;
  answeredAt: string | null;
  endTime: string | null;
  endReason: string | null;
  missed: boolean;
  waitSeconds: number | null;
  talkSeconds: number | null;
  /** The outcome code the agent recorded, and their note. */
  outcome?: string | null;
  outcomeNote?: string;
  /** The phone system's recording (an http(s) URL, checked by the server). */
  recordingUrl?: string | null;
}

/** An outcome code admins set (`GET /api/call-outcomes`). */
export interface OutcomeCode {
  id: number;
  code: string;
  label: string;
  position: number;
  active: boolean;
}

/** A token as `GET /api/tokens` lists it (never its secret). */
export interface ApiToken {
  id: number;
  kind: 'api' | 'bot';
  name: string;
  account: string | null;
  created_at: string;
  revoked: boolean;
}

export type CallbackOutcome = 'reached' | 'no_answer' | 'wrong_number' | 'not_needed';

/** A missed call to return (`GET /api/callbacks`). */
export interface Callback {
  id: number;
  status: 'open' | 'closed';
  number: string;
  callerNumber: string;
  callId: string;
  lastCallId: string;
  missedCalls: number;
  queue: string | null;
  customerId: number | null;
  customerName: string | null;
  assignedAgentId: number | null;
  outcome: CallbackOutcome | null;
  note: string;
  lastMissedAt: string;
  createdAt: string;
  closedAt: string | null;
}

/** A call's figures (`domain::reports::CallFigures`): averages in seconds, `null` when nothing to measure. */
export interface CallFigures {
  offered: number;
  answered: number;
  abandoned: number;
  shortAbandoned: number;
  averageSpeedOfAnswer: number | null;
  serviceLevel: number | null;
  averageHandleTime: number | null;
  ringOuts: number;
  outbound: number;
}

/** A call on the floor: waiting, ringing or connected, with its seconds so far when the floor was read. */
export interface FloorCall {
  callId: string;
  callerNumber: string;
  queue: string | null;
  status: 'queued' | 'ringing' | 'connected';
  customerId: number | null;
  customerName: string | null;
  agentId: number | null;
  startedAt: string;
  answeredAt: string | null;
  seconds: number;
}

export interface FloorAgent extends Agent {
  statusSince: string;
  stateSince: string;
  openConversations: number;
  ringOutsInRow: number;
}

/** `GET /api/floor`. */
export interface Floor {
  asOf: string;
  timeZone: string;
  serviceLevelSeconds: number;
  shortAbandonSeconds: number;
  waiting: FloorCall[];
  longestWaitSeconds: number;
  connected: FloorCall[];
  agents: FloorAgent[];
  chats: { unassigned: number; awaitingReply: number; oldestAwaitingSince: string | null };
  today: CallFigures;
  openCallbacks: number;
}

export type ReportGroupBy = 'agent' | 'queue' | 'day';

export interface ReportGroup extends CallFigures {
  key: string;
  label: string;
}

/** `GET /api/reports/calls`. */
export interface CallReport {
  from: string;
  until: string;
  timeZone: string;
  start: string;
  end: string;
  groupBy: ReportGroupBy;
  serviceLevelSeconds: number;
  shortAbandonSeconds: number;
  groups: ReportGroup[];
  total: CallFigures;
}

/** A command to the phone system (`phone_command_updated`, `GET /api/phone-commands`). */
export interface PhoneCommand {
  id: number;
  kind: 'answer' | 'reject' | 'hangup' | 'dial' | 'transfer';
  callId: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  agentId: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A conversation report's figures (`GET /api/reports/conversations`): times in seconds, `null` when none. */
export interface ChatFigures {
  conversations: number;
  messagesIn: number;
  messagesOut: number;
  responded: number;
  medianFirstResponse: number | null;
  resolved: number;
  medianResolution: number | null;
}

export interface ChatReport {
  from: string;
  until: string;
  timeZone: string;
  groupBy: 'page' | 'agent';
  groups: (ChatFigures & { key: string; label: string })[];
  total: ChatFigures;
  truncated: boolean;
}
