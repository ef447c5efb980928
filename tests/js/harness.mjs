// Starts the real switchboard binary for tests: a fresh data directory, port 0, tokens made by its CLI.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-js-'));
    this.env = {
      ...process.env,
      SWITCHBOARD_DATABASE_URL: `sqlite://${path.join(this.dir, 'sb.db')}`,
      SWITCHBOARD_LOG: 'warn',
      SWITCHBOARD_ENCRYPTION_KEY: path.join(this.dir, 'encryption.key'),
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
