// The console's own speed, in Debian's Chromium against the real `switchboard serve` (release build by
// default): how long a customer's message takes from the bot's POST to the receiver until it is on the
// agent's screen, at a steady rate and in bursts, and how long the console takes to open on a large inbox.
//
//   (. scripts/lib.sh && build_console) && cargo build --release --locked -p switchboard
//   cd bench/console && npm ci && node console-bench.mjs
//
// Options (environment): RATE (messages/s, default 20), SECONDS (default 20), CONVERSATIONS (for the
// load test, default 2000; the figure is 100000), SWITCHBOARD_BIN (default target/release/switchboard).
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
process.env.SWITCHBOARD_BIN ??= path.join(root, 'target/release/switchboard');
const { Switchboard, ADMIN_PASSWORD, launchChromium, message } = await import('../../tests/js/harness.mjs');

const RATE = Number(process.env.RATE ?? 20);
const SECONDS = Number(process.env.SECONDS ?? 20);
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 2000);
const ACCOUNT = 'bench_page';

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(label, latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${label}: ${sorted.length} messages, POST → on screen p50 ${percentile(sorted, 50)} ms, ` +
      `p99 ${percentile(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms`,
  );
}

const sb = new Switchboard();
const token = sb.cli('bots', 'add', ACCOUNT, '--name', 'Bench Page');
await sb.startServe();
let sequence = 0;

/** One bot POST of `count` messages, each to its own conversation among `threads`. */
async function push(count, threads, textOf) {
  const messages = [];
  for (let i = 0; i < count; i++) {
    const n = sequence++;
    messages.push(message(`m_${n}`, `t_${n % threads}`, textOf(n), { name: `Khách ${n % threads}` }));
  }
  const answer = await sb.post('/api/bot/new_messages', token, { user_id_chat: ACCOUNT, messages });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

const page0 = await (await fetch(`${sb.callcenter}/`)).text();
if (!page0.includes('id="app"')) {
  await sb.stop();
  throw new Error('this binary carries no console (built before console/dist): run `. scripts/lib.sh && build_console`, then cargo build --release');
}
const browser = await launchChromium(chromium);
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
try {
  await page.goto(`${sb.callcenter}/`);
  await page.getByLabel('Tên đăng nhập').fill('admin');
  await page.getByLabel('Mật khẩu').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.locator('[data-link="sender"][data-state="up"]').waitFor();
  // The page notes when each benchmark text first appears anywhere on screen.
  await page.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const node of document.querySelectorAll('.preview')) {
        const match = /bench#(\d+)/.exec(node.textContent ?? '');
        if (match && !(match[1] in window.__seen)) window.__seen[match[1]] = Date.now();
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });

  async function run(label, batches, perBatch, pauseMs, threads) {
    const sentAt = {};
    for (let b = 0; b < batches; b++) {
      const started = Date.now();
      const first = sequence;
      await push(perBatch, threads, (n) => `bench#${n} shop ơi còn hàng không`);
      for (let n = first; n < sequence; n++) sentAt[n] = started;
      const wait = pauseMs - (Date.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    // Only the newest message of each conversation is its preview: those are the ones to look for.
    const last = {};
    for (const n of Object.keys(sentAt).map(Number)) last[n % threads] = Math.max(last[n % threads] ?? -1, n);
    const wanted = Object.values(last);
    // The list is virtualised: a row is in the page while it is in view (or near). A message whose
    // row was pushed out of view by newer ones before the page drew it is never seen; waiting ends
    // 10 s after the last POST, and those are counted apart.
    await page
      .waitForFunction((ids) => ids.every((id) => id in window.__seen), wanted, { timeout: 10000 })
      .catch(() => {});
    const seen = await page.evaluate(() => window.__seen);
    const shown = wanted.filter((n) => n in seen);
    summary(label, shown.map((n) => seen[n] - sentAt[n]));
    if (shown.length < wanted.length) console.log(`  ${wanted.length - shown.length} of ${wanted.length} never drawn: newer ones had pushed them out of view before the page drew (a burst fills many screens)`);
  }

  await run(`steady ${RATE} messages/s for ${SECONDS} s, one per POST`, RATE * SECONDS, 1, 1000 / RATE, 1_000_000);
  await run('bursts of 100 messages (one POST) every second for 10 s', 10, 100, 1000, 1_000_000);

  const inPage = await page.locator('[data-conversation]').count();
  const known = await page.getByTestId('conversation-list').getAttribute('data-total');
  console.log(`rows in the page after the runs: ${inPage} of ${known} conversations in the list (virtualised)`);

  // Opening the console on a large inbox: CONVERSATIONS conversations (pushed with the console closed),
  // then the console opened afresh with the same session.
  await page.goto('about:blank');
  const before = sequence;
  for (let i = 0; i < CONVERSATIONS; i += 500) await push(Math.min(500, CONVERSATIONS - i), 1_000_000, (n) => `khách số ${n}`);
  const opened = Date.now();
  await page.goto(`${sb.callcenter}/`);
  await page.locator('[data-conversation]').first().waitFor();
  const firstScreen = Date.now() - opened;
  const shown = await page.locator('[data-conversation]').count();
  console.log(`open the console with ${sequence - before} more conversations: first conversations on screen after ${firstScreen} ms (${shown} rows in the page, the rest paged)`);
} finally {
  await browser.close();
  await sb.stop();
}
