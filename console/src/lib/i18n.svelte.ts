// The console's words in Vietnamese (the default) and English, and locale-aware dates and numbers.
// Every visible string goes through `t`; untrusted text never does (it is shown as text, as is).

export type Locale = 'vi' | 'en';

const vi = {
  'app.name': 'Switchboard',
  'login.title': 'Đăng nhập',
  'login.username': 'Tên đăng nhập',
  'login.password': 'Mật khẩu',
  'login.submit': 'Đăng nhập',
  'login.failed': 'Sai tên đăng nhập hoặc mật khẩu',
  'login.busy': 'Đang đăng nhập…',
  'logout': 'Đăng xuất',
  'nav.inbox': 'Hộp thư',
  'nav.notifications': 'Thông báo',
  'nav.posts': 'Bài đăng',
  'nav.calls': 'Cuộc gọi',
  'nav.customers': 'Khách hàng',
  'nav.agents': 'Nhân viên',
  'nav.admin': 'Quản trị',
  'status.available': 'Sẵn sàng',
  'status.busy': 'Bận',
  'status.away': 'Vắng mặt',
  'status.offline': 'Ngoại tuyến',
  'status.mine': 'Trạng thái của tôi',
  'status.notAgent': 'Bạn chưa là nhân viên tổng đài',
  'state.idle': 'rảnh',
  'state.ringing': 'đang đổ chuông',
  'state.on_call': 'đang gọi',
  'state.wrap_up': 'hoàn tất cuộc gọi',
  'conn.receiver': 'Receiver',
  'conn.sender': 'Sender',
  'conn.callcenter': 'Tổng đài',
  'conn.up': 'đã kết nối',
  'conn.down': 'mất kết nối, đang thử lại',
  'conn.connecting': 'đang kết nối',
  'conn.lost': 'Mất kết nối tới {links} — đang tự kết nối lại, dữ liệu sẽ được đồng bộ khi có mạng.',
  'bot.online': 'Bot trực tuyến',
  'bot.offline': 'Bot ngoại tuyến',
  'bot.error': 'Bot lỗi',
  'bot.needs_login': 'Cần đăng nhập lại',
  'bot.rate_limited': 'Facebook đang giới hạn',
  'bot.disabled': 'Đã tắt',
  'inbox.allAccounts': 'Tất cả tài khoản',
  'inbox.accounts': 'Tài khoản & trang',
  'inbox.search': 'Tìm theo tên hoặc nội dung',
  'inbox.unreadOnly': 'Chưa đọc',
  'inbox.empty': 'Không có cuộc hội thoại nào',
  'inbox.pick': 'Chọn một cuộc hội thoại',
  'inbox.more': 'Tải thêm',
  'inbox.olderLoading': 'Đang tải tin cũ hơn…',
  'inbox.beginning': 'Đầu cuộc hội thoại',
  'inbox.you': 'Bạn: ',
  'composer.placeholder': 'Nhập tin nhắn… (Enter để gửi, Shift+Enter xuống dòng)',
  'composer.send': 'Gửi',
  'composer.tooLong': 'Tối đa {max} ký tự',
  'msg.queued': 'Đang chờ gửi',
  'msg.sent': 'Đã gửi',
  'msg.failed': 'Gửi lỗi',
  'msg.retry': 'Gửi lại',
  'msg.attachment': 'Tệp đính kèm',
  'msg.image': 'Ảnh',
  'customer.link': 'Gắn với khách hàng',
  'customer.linked': 'Khách hàng',
  'notifications.empty': 'Chưa có thông báo',
  'notifications.open': 'Mở',
  'posts.new': 'Bài đăng mới',
  'posts.account': 'Đăng lên',
  'posts.content': 'Nội dung',
  'posts.imageUrl': 'Ảnh (URL, không bắt buộc)',
  'posts.submit': 'Đăng bài',
  'posts.queued': 'Đang chờ đăng',
  'posts.posted': 'Đã đăng',
  'posts.failed': 'Đăng lỗi',
  'posts.view': 'Xem trên Facebook',
  'posts.empty': 'Chưa có bài đăng',
  'calls.incoming': 'Cuộc gọi đến',
  'calls.from': 'Số gọi đến',
  'calls.to': 'Số được gọi',
  'calls.newCustomer': 'Khách hàng mới — chưa có trong CRM',
  'calls.assigned': 'Đang đổ chuông tại',
  'calls.notAssigned': 'Chưa có nhân viên rảnh',
  'calls.agent': 'Nhân viên trả lời',
  'calls.pickAgent': 'Chọn nhân viên…',
  'calls.answer': 'Trả lời',
  'calls.reject': 'Từ chối',
  'calls.hangup': 'Kết thúc',
  'calls.inProgress': 'Đang gọi',
  'calls.log': 'Nhật ký cuộc gọi',
  'calls.missedOnly': 'Chỉ cuộc gọi nhỡ',
  'calls.missed': 'Gọi nhỡ',
  'calls.answered': 'Đã trả lời',
  'calls.ringing': 'Đang đổ chuông',
  'calls.connected': 'Đang đàm thoại',
  'calls.waiting': 'Đang chờ',
  'calls.ended': 'Đã kết thúc',
  'calls.duration': 'Thời lượng',
  'calls.time': 'Thời gian',
  'calls.number': 'Số điện thoại',
  'calls.status': 'Trạng thái',
  'calls.pastCalls': 'Cuộc gọi trước',
  'calls.recentChats': 'Hội thoại Facebook gần đây',
  'calls.none': 'Chưa có cuộc gọi',
  'calls.summary': '{ringing} đang đổ chuông · {waiting} đang chờ · {connected} đang gọi',
  'calls.notify': 'Bật thông báo trình duyệt',
  'calls.sound': 'Chuông',
  'customers.search': 'Tìm theo tên hoặc số điện thoại',
  'customers.new': 'Khách hàng mới',
  'customers.name': 'Họ tên',
  'customers.phones': 'Số điện thoại (cách nhau bởi dấu phẩy)',
  'customers.email': 'Email',
  'customers.cif': 'CIF',
  'customers.notes': 'Ghi chú',
  'customers.save': 'Lưu',
  'customers.saved': 'Đã lưu',
  'customers.create': 'Tạo khách hàng',
  'customers.conversations': 'Hội thoại đã gắn',
  'customers.calls': 'Cuộc gọi',
  'customers.empty': 'Không tìm thấy khách hàng',
  'customers.pick': 'Chọn một khách hàng',
  'agents.title': 'Nhân viên tổng đài',
  'agents.extension': 'Số máy lẻ',
  'agents.none': 'Chưa có nhân viên',
  'admin.users': 'Người dùng',
  'admin.accounts': 'Tài khoản Facebook',
  'admin.tokens': 'API token',
  'admin.username': 'Tên đăng nhập',
  'admin.displayName': 'Tên hiển thị',
  'admin.role': 'Vai trò',
  'admin.password': 'Mật khẩu (≥ 10 ký tự)',
  'admin.add': 'Thêm',
  'admin.disable': 'Vô hiệu hoá',
  'admin.enable': 'Kích hoạt',
  'admin.remove': 'Xoá',
  'admin.revoke': 'Thu hồi',
  'admin.accountId': 'user_id_chat (ID trang/tài khoản)',
  'admin.accountName': 'Tên',
  'admin.kind': 'Loại',
  'admin.kind.page': 'Trang',
  'admin.kind.personal': 'Cá nhân',
  'admin.credentials': 'Thông tin đăng nhập (chỉ ghi, không bao giờ hiển thị lại)',
  'admin.credential.page_access_token': 'Page access token',
  'admin.credential.password': 'Mật khẩu Facebook',
  'admin.credential.cookies': 'Cookies',
  'admin.credential.two_factor_secret': 'Mã bí mật 2FA',
  'admin.credentialSet': 'đã đặt',
  'admin.credentialUnset': 'chưa đặt',
  'admin.saveCredentials': 'Lưu thông tin đăng nhập',
  'admin.botToken': 'Tạo bot token',
  'admin.tokenName': 'Tên token',
  'admin.shownOnce': 'Chỉ hiển thị một lần — hãy sao chép ngay:',
  'admin.confirmRemove': 'Xoá tài khoản {name} cùng mọi hội thoại, tin nhắn và bài đăng?',
  'admin.role.admin': 'Quản trị',
  'admin.role.supervisor': 'Giám sát',
  'admin.role.agent': 'Nhân viên',
  'admin.makeAgent': 'Thêm vào tổng đài',
  'admin.isAgent': 'Nhân viên tổng đài',
  'common.loading': 'Đang tải…',
  'common.error': 'Lỗi',
  'common.close': 'Đóng',
  'common.cancel': 'Huỷ',
  'common.language': 'Ngôn ngữ',
  'common.never': 'chưa bao giờ',
  'common.yes': 'Có',
  'common.no': 'Không',
  'common.reload': 'Tải lại',
  'common.search': 'Tìm',
} as const;

export type Key = keyof typeof vi;

const en: Record<Key, string> = {
  'app.name': 'Switchboard',
  'login.title': 'Sign in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.failed': 'Wrong username or password',
  'login.busy': 'Signing in…',
  'logout': 'Sign out',
  'nav.inbox': 'Inbox',
  'nav.notifications': 'Notifications',
  'nav.posts': 'Posts',
  'nav.calls': 'Calls',
  'nav.customers': 'Customers',
  'nav.agents': 'Agents',
  'nav.admin': 'Admin',
  'status.available': 'Available',
  'status.busy': 'Busy',
  'status.away': 'Away',
  'status.offline': 'Offline',
  'status.mine': 'My status',
  'status.notAgent': 'You are not a call-center agent',
  'state.idle': 'idle',
  'state.ringing': 'ringing',
  'state.on_call': 'on a call',
  'state.wrap_up': 'wrapping up',
  'conn.receiver': 'Receiver',
  'conn.sender': 'Sender',
  'conn.callcenter': 'Call center',
  'conn.up': 'connected',
  'conn.down': 'disconnected, retrying',
  'conn.connecting': 'connecting',
  'conn.lost': 'Lost the connection to {links} — reconnecting; everything missed will be caught up.',
  'bot.online': 'Bot online',
  'bot.offline': 'Bot offline',
  'bot.error': 'Bot error',
  'bot.needs_login': 'Needs to log in again',
  'bot.rate_limited': 'Rate-limited by Facebook',
  'bot.disabled': 'Disabled',
  'inbox.allAccounts': 'All accounts',
  'inbox.accounts': 'Accounts & pages',
  'inbox.search': 'Search names or messages',
  'inbox.unreadOnly': 'Unread',
  'inbox.empty': 'No conversations',
  'inbox.pick': 'Pick a conversation',
  'inbox.more': 'Load more',
  'inbox.olderLoading': 'Loading older messages…',
  'inbox.beginning': 'Start of the conversation',
  'inbox.you': 'You: ',
  'composer.placeholder': 'Type a message… (Enter sends, Shift+Enter for a new line)',
  'composer.send': 'Send',
  'composer.tooLong': 'At most {max} characters',
  'msg.queued': 'Queued',
  'msg.sent': 'Sent',
  'msg.failed': 'Failed',
  'msg.retry': 'Retry',
  'msg.attachment': 'Attachment',
  'msg.image': 'Image',
  'customer.link': 'Link to a customer',
  'customer.linked': 'Customer',
  'notifications.empty': 'No notifications yet',
  'notifications.open': 'Open',
  'posts.new': 'New post',
  'posts.account': 'Post to',
  'posts.content': 'Content',
  'posts.imageUrl': 'Image (URL, optional)',
  'posts.submit': 'Post',
  'posts.queued': 'Queued',
  'posts.posted': 'Posted',
  'posts.failed': 'Failed',
  'posts.view': 'View on Facebook',
  'posts.empty': 'No posts yet',
  'calls.incoming': 'Incoming call',
  'calls.from': 'Caller',
  'calls.to': 'Called number',
  'calls.newCustomer': 'New customer — not in the CRM',
  'calls.assigned': 'Ringing at',
  'calls.notAssigned': 'No agent is free',
  'calls.agent': 'Answering agent',
  'calls.pickAgent': 'Pick an agent…',
  'calls.answer': 'Answer',
  'calls.reject': 'Reject',
  'calls.hangup': 'Hang up',
  'calls.inProgress': 'On a call',
  'calls.log': 'Call log',
  'calls.missedOnly': 'Missed calls only',
  'calls.missed': 'Missed',
  'calls.answered': 'Answered',
  'calls.ringing': 'Ringing',
  'calls.connected': 'On the line',
  'calls.waiting': 'Waiting',
  'calls.ended': 'Ended',
  'calls.duration': 'Duration',
  'calls.time': 'Time',
  'calls.number': 'Number',
  'calls.status': 'Status',
  'calls.pastCalls': 'Past calls',
  'calls.recentChats': 'Recent Facebook conversations',
  'calls.none': 'No calls yet',
  'calls.summary': '{ringing} ringing · {waiting} waiting · {connected} connected',
  'calls.notify': 'Turn on browser notifications',
  'calls.sound': 'Ringtone',
  'customers.search': 'Search by name or number',
  'customers.new': 'New customer',
  'customers.name': 'Full name',
  'customers.phones': 'Phone numbers (comma separated)',
  'customers.email': 'Email',
  'customers.cif': 'CIF',
  'customers.notes': 'Notes',
  'customers.save': 'Save',
  'customers.saved': 'Saved',
  'customers.create': 'Create customer',
  'customers.conversations': 'Linked conversations',
  'customers.calls': 'Calls',
  'customers.empty': 'No customers found',
  'customers.pick': 'Pick a customer',
  'agents.title': 'Call-center agents',
  'agents.extension': 'Extension',
  'agents.none': 'No agents yet',
  'admin.users': 'Users',
  'admin.accounts': 'Facebook accounts',
  'admin.tokens': 'API tokens',
  'admin.username': 'Username',
  'admin.displayName': 'Display name',
  'admin.role': 'Role',
  'admin.password': 'Password (≥ 10 characters)',
  'admin.add': 'Add',
  'admin.disable': 'Disable',
  'admin.enable': 'Enable',
  'admin.remove': 'Remove',
  'admin.revoke': 'Revoke',
  'admin.accountId': 'user_id_chat (page or account ID)',
  'admin.accountName': 'Name',
  'admin.kind': 'Kind',
  'admin.kind.page': 'Page',
  'admin.kind.personal': 'Personal',
  'admin.credentials': 'Credentials (write-only, never shown again)',
  'admin.credential.page_access_token': 'Page access token',
  'admin.credential.password': 'Facebook password',
  'admin.credential.cookies': 'Cookies',
  'admin.credential.two_factor_secret': '2FA secret',
  'admin.credentialSet': 'set',
  'admin.credentialUnset': 'not set',
  'admin.saveCredentials': 'Save credentials',
  'admin.botToken': 'New bot token',
  'admin.tokenName': 'Token name',
  'admin.shownOnce': 'Shown only once — copy it now:',
  'admin.confirmRemove': 'Remove the account {name} with all its conversations, messages and posts?',
  'admin.role.admin': 'Admin',
  'admin.role.supervisor': 'Supervisor',
  'admin.role.agent': 'Agent',
  'admin.makeAgent': 'Add to the call center',
  'admin.isAgent': 'Call-center agent',
  'common.loading': 'Loading…',
  'common.error': 'Error',
  'common.close': 'Close',
  'common.cancel': 'Cancel',
  'common.language': 'Language',
  'common.never': 'never',
  'common.yes': 'Yes',
  'common.no': 'No',
  'common.reload': 'Reload',
  'common.search': 'Search',
};

const dictionaries: Record<Locale, Record<Key, string>> = { vi, en };
const STORAGE_KEY = 'switchboard.locale';

function initialLocale(): Locale {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (saved === 'vi' || saved === 'en') return saved;
  } catch {
    // Storage can be off (private mode); Vietnamese is the default.
  }
  return 'vi';
}

class I18n {
  locale = $state<Locale>(initialLocale());

  set(locale: Locale) {
    this.locale = locale;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, locale);
    } catch {
      // Not remembered; still switched.
    }
    if (globalThis.document) document.documentElement.lang = locale;
  }

  /** BCP 47 tag for Intl: Vietnamese as written in Vietnam, English as the browser prefers it. */
  get tag(): string {
    return this.locale === 'vi' ? 'vi-VN' : (globalThis.navigator?.language?.startsWith('en') ? navigator.language : 'en-GB');
  }
}

export const i18n = new I18n();

export function translate(locale: Locale, key: Key, params?: Record<string, string | number>): string {
  let text: string = dictionaries[locale][key] ?? key;
  for (const [name, value] of Object.entries(params ?? {})) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function t(key: Key, params?: Record<string, string | number>): string {
  return translate(i18n.locale, key, params);
}

/** A translation for a value from the server (a status), or the value itself when we have no word for it. */
export function tv(prefix: string, value: string): string {
  const key = `${prefix}.${value}` as Key;
  return key in vi ? t(key) : value;
}

export function formatDateTime(value: string | null | undefined, tag = i18n.tag): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return new Intl.DateTimeFormat(tag, sameDay ? { hour: '2-digit', minute: '2-digit' } : { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(date);
}

export function formatTime(value: string | null | undefined, tag = i18n.tag): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(date);
}

export function formatNumber(value: number, tag = i18n.tag): string {
  return new Intl.NumberFormat(tag).format(value);
}

/** 75 → "1:15", 3700 → "1:01:40": a call's length. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
