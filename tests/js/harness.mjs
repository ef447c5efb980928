// Starts the real switchboard binary for tests: a fresh data directory, port 0, tokens made by its CLI.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.SWITCHBOARD_BIN ?? path.join(root, 'target/debug/switchboard');

export class Switchboard {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-js-'));
    this.env = {
      ...process.env,
      SWITCHBOARD_DATABASE_URL: `sqlite://${path.join(this.dir, 'sb.db')}`,
      SWITCHBOARD_LOG: 'warn',
    };
    delete this.env.SWITCHBOARD_RECEIVER_LISTEN;
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
    this.child = spawn(BIN, ['receiver', '--listen', '127.0.0.1:0'], {
      cwd: this.dir,
      env: this.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = readline.createInterface({ input: this.child.stdout });
    this.url = await new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`receiver exited early with ${code}`)));
      lines.once('line', (line) => resolve(line.trim().split(' ').pop()));
    });
    return this.url;
  }

  async post(path, token, body) {
    const response = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function message(id, thread, text) {
  return {
    message_id: id,
    conversation: { thread_id: thread, participant_id: `u-${thread}`, participant_name: 'Lê Văn Cường' },
    direction: 'in',
    text,
    sent_at: new Date().toISOString(),
  };
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
