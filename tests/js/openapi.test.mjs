// Each role's OpenAPI document as served: the same as `switchboard openapi ROLE` prints, its docs page
// at /docs rendered in Chromium with nothing from another host, and the running server held to the
// document by schemathesis (valid and invalid inputs: no server error, every answer as documented).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { Switchboard, launchChromium } from './harness.mjs';

const sb = new Switchboard();
const ROLES = ['receiver', 'sender', 'callcenter'];
let urls;
let tokens;

before(async () => {
  tokens = { receiver: sb.botToken('page1'), sender: sb.apiToken(), callcenter: sb.apiToken('cc') };
  urls = await sb.startServe();
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
  for (const endpoint of ['register', 'new_messages', 'new_notifications', 'status_update']) {
    const operation = doc.paths[`/api/bot/${endpoint}`]?.post;
    assert.ok(operation, endpoint);
    assert.ok(operation.requestBody.content['application/json'].schema.$ref, `${endpoint} body`);
    assert.ok(operation.responses['200'] && operation.responses.default, `${endpoint} answers`);
    assert.deepEqual(operation.security, [{ bearer: [] }]);
  }
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
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
for (const role of ROLES) {
  test(`${role}: schemathesis finds no server error and no answer outside the document`, { skip: !schemathesis && process.env.CI !== 'true' && 'schemathesis is not installed (scripts/test installs it)' }, () => {
    assert.ok(schemathesis, 'SCHEMATHESIS names the schemathesis program (scripts/test sets it)');
    const args = [
      'run', `${urls[role]}/openapi.json`,
      '--header', `Authorization: Bearer ${tokens[role]}`,
      '--mode', 'all',
      '--max-examples', '25',
      '--seed', '20261205',
      '--checks', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance',
      '--no-color',
    ];
    try {
      // In the node's scratch folder: schemathesis leaves its reports where it runs.
      execFileSync(schemathesis, args, { cwd: sb.dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    } catch (error) {
      assert.fail(`schemathesis on ${role}:\n${error.stdout?.toString().slice(-6000)}${error.stderr?.toString().slice(-2000)}`);
    }
  });
}
