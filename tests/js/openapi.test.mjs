// Each role's OpenAPI document as served: the same as `switchboard openapi ROLE` prints, its docs page
// at /docs rendered in Chromium with nothing from another host, and the running server held to the
// document by schemathesis (valid and invalid inputs: no server error, every answer as documented).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Switchboard, launchChromium } from './harness.mjs';

const sb = new Switchboard();
const ROLES = ['receiver', 'sender', 'callcenter'];
let urls;
let tokens;

// Limits far above what schemathesis sends: its invalid inputs include bad tokens, and the limiter
// would otherwise answer 429 to most of what follows them.
const UNLIMITED = ['anonymous', 'integrator', 'bot', 'address', 'failed-auth']
  .flatMap((limit) => [`--limits-${limit}`, '1000000/1000000'])
  .concat(['--limits-in-flight-per-token', '64']);

before(async () => {
  // A token per run: a run may revoke or disable what it finds, so none shares its token.
  tokens = {
    receiver: sb.botToken('page1'),
    sender: sb.apiToken('sender'),
    callcenter: sb.apiToken('callcenter'),
    revoking: sb.apiToken('revoking'),
    pbx: sb.cli('tokens', 'add', '--pbx', 'pbx'),
  };
  urls = await sb.startServe(UNLIMITED);
});
after(() => sb.stop());

for (const role of ROLES) {
  test(`${role}: /openapi.json is OpenAPI 3.1 and what \`switchboard openapi ${role}\` prints`, async () => {
    const response = await fetch(`${urls[role]}/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const served = await response.json();
    assert.equal(served.openapi, '3.1.0');
    for (const shared of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      assert.ok(served.paths[shared], `${role} documents ${shared}`);
    }
    const printed = JSON.parse(sb.cli('openapi', role));
    assert.deepEqual(printed, served);
  });
}

test('receiver: every bot endpoint is documented with its body, answers and the bearer scheme', async () => {
  const doc = await (await fetch(`${urls.receiver}/openapi.json`)).json();
  for (const endpoint of ['register', 'new_messages', 'new_notifications', 'new_comments', 'status_update']) {
    const operation = doc.paths[`/api/bot/${endpoint}`]?.post;
    assert.ok(operation, endpoint);
    assert.ok(operation.requestBody.content['application/json'].schema.$ref, `${endpoint} body`);
    assert.ok(operation.responses['200'] && operation.responses.default, `${endpoint} answers`);
    assert.deepEqual(operation.security, [{ bearer: [] }]);
  }
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
});

test('sender: every console endpoint is documented with its answers and both ways to authenticate', async () => {
  const doc = await (await fetch(`${urls.sender}/openapi.json`)).json();
  const operations = Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
    .filter(({ name }) => name.includes(' /api/'));
  // The seed's paths and ours, each as served (docs/protocol.md).
  assert.deepEqual(operations.map((o) => o.name).sort(), [
    'DELETE /api/canned_responses/{id}', 'DELETE /api/fb_accounts/{user_id_chat}', 'DELETE /api/labels/{id}', 'DELETE /api/teams/{id}', 'DELETE /api/tokens/{id}',
    'GET /api/attachments/{id}', 'GET /api/auth/me', 'GET /api/bot/account', 'GET /api/canned_responses', 'GET /api/conversations', 'GET /api/conversations/{id}',
    'GET /api/conversations/{id}/notes', 'GET /api/fb_accounts', 'GET /api/fb_accounts/{user_id_chat}/access', 'GET /api/feed_posts/{user_id_chat}/{post_id}',
    'GET /api/inbox', 'GET /api/inbox/counts',
    'GET /api/labels', 'GET /api/messages/{conversation_id}', 'GET /api/notifications/{user_id_chat}',
    'GET /api/posts/{id}', 'GET /api/team', 'GET /api/teams', 'GET /api/tokens', 'GET /api/users', 'PATCH /api/canned_responses/{id}', 'PATCH /api/conversations/{id}',
    'PATCH /api/fb_accounts/{user_id_chat}', 'PATCH /api/labels/{id}', 'PATCH /api/teams/{id}', 'PATCH /api/users/{id}',
    'POST /api/attachments', 'POST /api/auth/login', 'POST /api/auth/logout', 'POST /api/canned_responses',
    'POST /api/comments/{message_id}/moderation', 'POST /api/comments/{message_id}/private_reply', 'POST /api/comments/{message_id}/reply',
    'POST /api/conversations/{id}/notes',
    'POST /api/conversations/{id}/read', 'POST /api/conversations/{id}/take', 'POST /api/fb_accounts',
    'POST /api/fb_accounts/{user_id_chat}/bot_token', 'POST /api/labels',
    'POST /api/messages/{message_id}/retry', 'POST /api/post_to_facebook', 'POST /api/posts/{id}/retry',
    'POST /api/send_message_from_crm', 'POST /api/teams', 'POST /api/tokens', 'POST /api/users',
    'PUT /api/fb_accounts/{user_id_chat}/access', 'PUT /api/fb_accounts/{user_id_chat}/assignment',
  ]);
  for (const { name, operation } of operations) {
    // A file is answered as its bytes; everything else as JSON.
    const answerType = name === 'GET /api/attachments/{id}' ? 'application/octet-stream' : 'application/json';
    assert.ok(operation.responses['200']?.content[answerType].schema, `${name}: its answer's schema`);
    assert.ok(operation.responses.default, `${name}: its errors`);
    assert.ok(operation.tags?.length === 1 && operation.summary, `${name}: a tag and a summary`);
    const expected = name === 'POST /api/auth/login' ? [{}]
      : name === 'GET /api/bot/account' ? [{ bearer: [] }]
        : [{ session: [] }, { bearer: [] }];
    assert.deepEqual(operation.security, expected, `${name}: security`);
  }
  assert.equal(doc.components.securitySchemes.session.in, 'cookie');
});

test('/docs renders every operation in Chromium, loading nothing from another host', async () => {
  const browser = await launchChromium(chromium);
  try {
    for (const role of ROLES) {
      const page = await browser.newPage();
      const foreign = [];
      const problems = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(urls[role])) foreign.push(request.url());
      });
      // A failed load is named by its response below (the browser's own `/favicon.ico` aside).
      page.on('console', (msg) => msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && problems.push(msg.text()));
      page.on('response', (answer) => answer.status() >= 400 && !answer.url().endsWith('/favicon.ico') && problems.push(`${answer.status()} ${answer.url()}`));
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(`${urls[role]}/docs`);
      const doc = await (await fetch(`${urls[role]}/openapi.json`)).json();
      const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      await page.waitForFunction((n) => document.querySelectorAll('.opblock').length === n, operations, { timeout: 15000 });
      assert.equal(await page.textContent('.info .title'), `${doc.info.title} ${doc.info.version} OAS 3.1`);
      assert.deepEqual(foreign, [], `${role}: requests to other hosts`);
      assert.deepEqual(problems, [], `${role}: errors on the page`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

const schemathesis = process.env.SCHEMATHESIS;
const skipSchemathesis = !schemathesis && process.env.CI !== 'true' && 'schemathesis is not installed (scripts/test installs it)';

// Revoking a token may revoke the run's own: that operation runs alone, last, with a token of its own.
const REVOKE = 'DELETE /api/tokens/{id}';

// The operations that can only refuse the run's token (401/403), whatever schemathesis sends: any
// other operation answering only that means the token stopped working, and the run tested nothing.
const ONLY_REFUSED = {
  receiver: [],
  sender: ['GET /api/bot/account', 'POST /api/auth/login'],
  callcenter: [],
};

/**
 * Values schemathesis cannot guess: the phone system's token in the CTI webhook's path, so that the
 * webhook is tested with valid events and not only refused.
 */
function schemathesisConfig() {
  const file = path.join(sb.dir, 'schemathesis.toml');
  writeFileSync(file, `[parameters]\n"path.token" = "${tokens.pbx}"\n`);
  return file;
}

/** Runs schemathesis on `role`'s document with `token` and `filter` arguments; answers its output. */
function schemathesisRun(role, token, filter) {
  assert.ok(schemathesis, 'SCHEMATHESIS names the schemathesis program (scripts/test sets it)');
  const args = [
    '--config-file', schemathesisConfig(),
    'run', `${urls[role]}/openapi.json`,
    '--header', `Authorization: Bearer ${token}`,
    '--mode', 'all',
    '--max-examples', '25',
    '--seed', '20261205',
    '--checks', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance',
    '--no-color',
    ...filter,
  ];
  try {
    // In the node's scratch folder: schemathesis leaves its reports where it runs.
    return execFileSync(schemathesis, args, { cwd: sb.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (error) {
    assert.fail(`schemathesis on ${role}:\n${error.stdout?.toString().slice(-6000)}${error.stderr?.toString().slice(-2000)}`);
  }
}

/** The operations schemathesis's warning lists as answering only 401/403. */
function onlyRefused(output) {
  const start = output.indexOf('Authentication failed:');
  if (start < 0) return [];
  const block = output.slice(start, output.indexOf('💡', start));
  return [...block.matchAll(/^ {2}- (.+)$/gm)].map((m) => m[1]).sort();
}

for (const role of ROLES) {
  test(`${role}: schemathesis finds no server error and no answer outside the document`, { skip: skipSchemathesis }, () => {
    const output = schemathesisRun(role, tokens[role], ['--exclude-name', REVOKE]);
    assert.match(output, /Test cases:\n\s+(\d+) generated, \1 passed/);
    assert.deepEqual(onlyRefused(output), ONLY_REFUSED[role], `${role}: operations that refused the token throughout`);
  });
}

test(`sender: schemathesis on ${REVOKE}, with a token of its own`, { skip: skipSchemathesis }, () => {
  const output = schemathesisRun('sender', tokens.revoking, ['--include-name', REVOKE]);
  assert.match(output, /Selected: 1\//);
});
