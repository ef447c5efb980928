// HTTP access to the three roles. Every answer is `{success, data}` or `{success: false, error}`
// (docs/protocol.md); errors become `ApiError` carrying the server's code and message.

export interface Endpoint {
  url: string | null;
  port: number | null;
}

export interface ConsoleConfig {
  receiver: Endpoint;
  sender: Endpoint;
}

export interface Urls {
  receiver: string;
  sender: string;
  /** The call center: the origin that served the console. */
  callcenter: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

/** A configured URL wins; otherwise the page's own host on the role's port. */
export function resolveEndpoint(endpoint: Endpoint, page: { protocol: string; hostname: string }, fallbackPort: number): string {
  if (endpoint.url) return endpoint.url.replace(/\/+$/, '');
  return `${page.protocol}//${page.hostname}:${endpoint.port ?? fallbackPort}`;
}

export async function loadUrls(): Promise<Urls> {
  let config: ConsoleConfig = { receiver: { url: null, port: 5001 }, sender: { url: null, port: 5002 } };
  try {
    const response = await fetch('/console/config.json', { cache: 'no-store' });
    if (response.ok) config = (await response.json()) as ConsoleConfig;
  } catch {
    // Keep the defaults: the seed's ports on this host.
  }
  return {
    receiver: resolveEndpoint(config.receiver, location, 5001),
    sender: resolveEndpoint(config.sender, location, 5002),
    callcenter: location.origin,
  };
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export class Api {
  /**
   * Whether this page has a session. The session itself is the HttpOnly cookie the sender's login sets:
   * the browser sends it with every request (`credentials: 'include'`), and no script can read it.
   */
  loggedIn = false;
  /** Called when the server says the session is gone (401), so the app can show the login again. */
  onUnauthorized: () => void = () => {};

  constructor(public urls: Urls) {}

  async request<T>(base: string, method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    // Every change is sent as JSON, even without a body: the server takes the cookie for a change only
    // then (a plain form of another page cannot send JSON).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: 'include',
        body: body === undefined ? (method === 'GET' ? undefined : '{}') : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
    }
    return this.answerOf<T>(response);
  }

  /** The data of a `{success, data}` answer, or its error as an `ApiError`. */
  private async answerOf<T>(response: Response): Promise<T> {
    let answer: { success?: boolean; data?: T; error?: { code?: string; message?: string; field?: string } } = {};
    try {
      answer = await response.json();
    } catch {
      // Not JSON (a proxy's error page): described by the status below.
    }
    if (!response.ok || answer.success === false) {
      if (response.status === 401 && this.loggedIn) this.onUnauthorized();
      throw new ApiError(
        response.status,
        answer.error?.code ?? 'http_' + response.status,
        answer.error?.message ?? `HTTP ${response.status}`,
        answer.error?.field,
      );
    }
    return answer.data as T;
  }

  /**
   * Uploads a file to attach to a reply (`POST /api/attachments`): the body is the file itself, sent
   * as `application/octet-stream` (the server reads the type from the bytes, and takes the session
   * cookie for that type as it does for JSON).
   */
  upload(file: Blob, name: string): Promise<UploadedFile> {
    return this.sendFile<UploadedFile>(this.urls.sender, '/api/attachments', file, { name });
  }

  /** Imports customers from a CSV file (`POST /api/customers/import`); the query says how. */
  importCustomers(file: Blob, query: Query): Promise<import('./types').ImportReport> {
    return this.sendFile(this.urls.callcenter, '/api/customers/import', file, query);
  }

  /**
   * Saves a call-center listing as the CSV file it answers with `Accept: text/csv` (the call log):
   * fetched with the session cookie, then handed to the browser as a download named `name`.
   */
  async downloadCsv(path: string, query: Query, name: string): Promise<void> {
    const url = new URL(this.urls.callcenter + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: 'text/csv' }, credentials: 'include' });
    } catch (error) {
      throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
    }
    if (!response.ok) {
      await this.answerOf(response);
      return;
    }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }

  /** Where the browser downloads every customer as CSV (a plain GET: the session cookie goes along). */
  get customersExportUrl(): string {
    return this.urls.callcenter + '/api/customers/export';
  }

  private async sendFile<T>(base: string, path: string, file: Blob, query: Query): Promise<T> {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/octet-stream' },
        credentials: 'include',
        body: file,
      });
    } catch (error) {
      throw new ApiError(0, 'network', error instanceof Error ? error.message : String(error));
    }
    return this.answerOf<T>(response);
  }

  /** A file's address on the sender (`/api/attachments/{id}` as messages carry it); others as they are. */
  fileUrl(value: unknown): unknown {
    return typeof value === 'string' && /^\/api\/attachments\/\d+$/.test(value) ? this.urls.sender + value : value;
  }

  sender<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>(this.urls.sender, method, path, body, query);
  }

  callcenter<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>(this.urls.callcenter, method, path, body, query);
  }
}

/** A file uploaded for a reply (`POST /api/attachments`). */
export interface UploadedFile {
  id: number;
  name: string;
  kind: 'image' | 'file';
  content_type: string;
  size: number;
  url: string;
}

export interface PageOf<T> {
  items: T[];
  next_cursor: string | null;
}
