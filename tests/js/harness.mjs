// Starts the real switchboard binary for tests: a fresh data directory, port 0, tokens made by its CLI.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_PASSWORD = 'js tests admin password';
export const BIN = process.env.SWITCHBOARD_BIN ?? path.join(root, 'target/debug/switchboard');

function serveArgs(receiver, sender, callcenter, extraArgs) {
  return ['serve', '--receiver-listen', receiver, '--sender-listen', sender, '--callcenter-listen', callcenter, ...extraArgs];
}

export class Switchboard {
  /**
   * A node in a fresh directory, on its own SQLite file, or on `databaseUrl` with the encryption key of
   * `keyOf` (another node of the same database: every node needs the same key).
   */
  constructor({ databaseUrl, keyOf } = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-js-'));
    this.env = {
      ...process.env,
      SWITCHBOARD_DATABASE_URL: databaseUrl ?? `sqlite://${path.join(this.dir, 'sb.db')}`,
      SWITCHBOARD_LOG: 'warn',
      SWITCHBOARD_ENCRYPTION_KEY: keyOf?.env.SWITCHBOARD_ENCRYPTION_KEY ?? path.join(this.dir, 'encryption.key'),
      SWITCHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
    };
    delete this.env.SWITCHBOARD_RECEIVER_LISTEN;
    delete this.env.SWITCHBOARD_SENDER_LISTEN;
    delete this.env.SWITCHBOARD_CALLCENTER_LISTEN;
  }

  cli(...args) {
    return execFileSync(BIN, args, { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  }

  botToken(account) {
    return this.cli('bots', 'add', account);
  }

  apiToken(name = 'console') {
    return this.cli('tokens', 'add', name);
  }

  /** Starts `switchboard receiver` on port 0 and resolves with its base URL. */
  async startReceiver() {
    const urls = await this.start(['receiver', '--listen', '127.0.0.1:0'], 1);
    this.url = urls.receiver;
    return this.url;
  }

  /** Starts `switchboard serve` (receiver, sender, call center) on port 0; resolves with the URLs. */
  async startServe(extraArgs = []) {
    const urls = await this.start(serveArgs('127.0.0.1:0', '127.0.0.1:0', '127.0.0.1:0', extraArgs), 3);
    this.url = urls.receiver;
    this.sender = urls.sender;
    this.callcenter = urls.callcenter;
    return urls;
  }

  /** A call-center REST call. */
  async cc(method, path, token, body) {
    const response = await fetch(`${this.callcenter}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Posts a Generic-CTI event as form fields, as a PBX script written for Zammad does. */
  async cti(token, fields) {
    const response = await fetch(`${this.callcenter}/api/v1/cti/${token}`, {
      method: 'POST',
      body: new URLSearchParams(fields),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Starts the binary and waits for the ready line of each of `roles` roles. */
  async start(args, roles) {
    this.child = spawn(BIN, args, { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: this.child.stdout });
    return new Promise((resolve, reject) => {
      const urls = {};
      this.child.once('exit', (code) => reject(new Error(`switchboard ${args[0]} exited early with ${code}`)));
      lines.on('line', (line) => {
        const match = line.match(/^switchboard (\w+) listening on (\S+)$/);
        if (match) urls[match[1]] = match[2];
        if (Object.keys(urls).length === roles) resolve(urls);
      });
    });
  }

  async login(username = 'admin', password = ADMIN_PASSWORD) {
    const response = await fetch(`${this.sender}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await response.json();
    if (!body.success) throw new Error(`login failed: ${JSON.stringify(body)}`);
    return body.data.token;
  }

  async api(method, path, token, body) {
    const response = await fetch(`${this.sender}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  async post(path, token, body) {
    const response = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Stops the server (SIGTERM, a clean shutdown) and keeps its data. */
  async kill() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
  }

  /** Stops `serve` and starts it again on the same database and the same ports. */
  async restartServe(extraArgs = []) {
    await this.kill();
    const address = (url) => new URL(url).host;
    await this.start(serveArgs(address(this.url), address(this.sender), address(this.callcenter), extraArgs), 3);
  }

  /** Starts a process of the same binary next to the server (a bot), stopped with the server. */
  spawnSide(args, env = {}) {
    const child = spawn(BIN, args, { cwd: this.dir, env: { ...this.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    (this.sides ??= []).push(child);
    return child;
  }

  async stop() {
    for (const side of this.sides ?? []) {
      if (side.exitCode === null) {
        const exited = new Promise((resolve) => side.once('exit', resolve));
        side.kill('SIGTERM');
        await exited;
      }
    }
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A customer's message as a bot pushes it; `name` is the customer's, `extra` adds or replaces fields. */
export function message(id, thread, text, { name = 'Lê Văn Cường', ...extra } = {}) {
  return {
    message_id: id,
    conversation: { thread_id: thread, participant_id: `u-${thread}`, participant_name: name },
    direction: 'in',
    text,
    sent_at: new Date().toISOString(),
    ...extra,
  };
}

/**
 * A console page of `context` signed in as `username` at the call center's address, once its call-center
 * link is up; page errors are printed with the user's name.
 */
export async function signIn(context, url, username, password) {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${username}: page error:`, error.message));
  await page.goto(`${url}/`);
  await page.getByLabel('Tên đăng nhập').fill(username);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('[data-link="callcenter"][data-state="up"]').waitFor({ timeout: 10000 });
  return page;
}

/** Debian's Chromium (never a downloaded browser), headless, driven by playwright-core. */
export function launchChromium(chromium, args = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', ...args] });
}

/** Resolves with the next `count` payloads of `event` on `socket`, or rejects after `ms`. */
export function collect(socket, event, count, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} ${event} events`)), ms);
    const handler = (payload) => {
      got.push(payload);
      if (got.length === count) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(got);
      }
    };
    socket.on(event, handler);
  });
}

/** Runs `sql` on the PostgreSQL database `url` with Debian's psql. */
function psql(url, sql) {
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A fresh schema on the PostgreSQL server `server` (a URL), as the Rust tests' scratch databases
 * (crates/storage/src/scratch.rs): `url` selects it, `drop()` removes it.
 */
export function scratchSchema(server) {
  const schema = `js_scratch_${process.pid}_${Date.now()}`;
  psql(server, `CREATE SCHEMA ${schema}`);
  const separator = server.includes('?') ? '&' : '?';
  return {
    url: `${server}${separator}options=-c%20search_path%3D${schema}`,
    drop: () => psql(server, `DROP SCHEMA IF EXISTS ${schema} CASCADE`),
  };
}

/** A free local port (bound, read and released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Each role as deploy/haproxy.cfg names it (its port) and the harness's URL of it on a node. */
const ROLES = [['receiver', 5001, (node) => node.url], ['sender', 5002, (node) => node.sender], ['callcenter', 8000, (node) => node.callcenter]];
const EXAMPLE_NODES = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];

/**
 * The shipped deploy/haproxy.cfg in front of `nodes` (started with `startServe`), as the Rust suite
 * runs it (crates/testkit/src/haproxy.rs): its example nodes pointed at them, its frontends on free
 * local ports, without what needs root. Resolves once every role answers `/healthz` through it, with
 * `{receiver, sender, callcenter}` URLs and `stop()`.
 */
export async function startHaproxy(nodes, dir) {
  let config = readFileSync(path.join(root, 'deploy/haproxy.cfg'), 'utf8');
  const replace = (from, to) => {
    if (!config.includes(from)) throw new Error(`deploy/haproxy.cfg has no \`${from}\``);
    config = config.split(from).join(to);
  };
  const urls = {};
  for (const [role, port, urlOf] of ROLES) {
    const front = await freePort();
    urls[role] = `http://127.0.0.1:${front}`;
    replace(`bind :${port}\n`, `bind 127.0.0.1:${front}\n`);
    nodes.forEach((node, i) => replace(`${EXAMPLE_NODES[i]}:${port}`, new URL(urlOf(node)).host));
  }
  replace('maxconn 20000', 'maxconn 2000');
  replace('127.0.0.1:10000', `127.0.0.1:${await freePort()}`);
  const unused = EXAMPLE_NODES.slice(nodes.length);
  config = config
    .split('\n')
    .filter((line) => {
      const trimmed = line.trimStart();
      return !unused.some((example) => trimmed.includes(`${example}:`))
        && !['daemon', 'user ', 'group ', 'stats ', 'log /dev/log'].some((start) => trimmed.startsWith(start));
    })
    .join('\n');
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child = spawn(process.env.HAPROXY_PATH ?? 'haproxy', ['-db', '-q', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Settled once HAProxy has ended, whether it exited, was killed, or could not start at all.
  let spawnError = null;
  const ended = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (error) => { spawnError = error; resolve(); });
  });
  const running = () => spawnError === null && child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) child.kill('SIGTERM');
    await ended;
  };
  const deadline = Date.now() + 20_000;
  for (const [role] of ROLES) {
    for (;;) {
      const status = await fetch(`${urls[role]}/healthz`).then((r) => r.status, () => 0);
      if (status === 200) break;
      if (Date.now() > deadline || !running()) {
        await stop();
        throw new Error(`HAProxy does not serve the ${role}${spawnError ? `: ${spawnError.message}` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { ...urls, stop };
}
