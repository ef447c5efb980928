// What deploy/ and .github/ ship (issue 17), checked as far as this machine can: every YAML file parses;
// the image builds with the same function as `scripts/run`; every SWITCHBOARD_* variable, flag and
// subcommand the files use exists in the binary, and the real binary starts, answers /readyz and
// /healthz, and drains with the settings of each file (the Dockerfile, both compose files, the
// systemd unit, each Kubernetes Deployment); the compose files, the Kubernetes manifests and the CI
// workflow are consistent with themselves and with the image; HAProxy accepts the compose variant of
// its configuration, which stays the same as deploy/haproxy.cfg; promtool checks the alert rules and
// runs their unit tests, which test every alert both ways; the dashboard and the rules use only the
// documented metrics; systemd-analyze verifies the unit. docs/deploy.md ("How each file was verified")
// says what cannot be checked here (docker build, kubectl apply).
//
// promtool and HAProxy are installed by scripts/test; without them these checks fail with CI=true and
// are skipped otherwise. systemd-analyze, kubectl (its kustomize), kubernetes-validate and
// check-jsonschema are used when installed, and skipped otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { BIN, scratchSchema } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CI = process.env.CI === 'true';
const read = (file) => readFileSync(path.join(root, file), 'utf8');

// ------------------------------------------------------------------------------------------------
// The metrics the dashboard and the alert rules may use: what the nodes export (docs/deploy.md,
// "Metrics"), with their labels. This list is the contract between the code and deploy/: a histogram
// is also read as NAME_bucket (with `le`), NAME_sum and NAME_count.
const METRICS = {
  switchboard_http_requests_total: { type: 'counter', labels: ['role', 'route', 'method', 'status'] },
  switchboard_http_request_duration_seconds: { type: 'histogram', labels: ['role', 'route'] },
  switchboard_rate_limited_total: { type: 'counter', labels: ['role', 'limit', 'caller'] },
  switchboard_ingested_total: { type: 'counter', labels: ['kind', 'result'] },
  switchboard_write_groups_total: { type: 'counter', labels: ['outcome'] },
  switchboard_write_group_units: { type: 'histogram', labels: [] },
  switchboard_write_group_seconds: { type: 'histogram', labels: [] },
  switchboard_socketio_connections: { type: 'gauge', labels: ['role', 'kind'] },
  switchboard_events_appended_total: { type: 'counter', labels: [] },
  switchboard_event_delivery_seconds: { type: 'histogram', labels: [] },
  switchboard_commands: { type: 'gauge', labels: ['state'] },
  switchboard_command_oldest_unacknowledged_seconds: { type: 'gauge', labels: ['account'] },
  switchboard_bot_connected: { type: 'gauge', labels: ['account'] },
  switchboard_calls: { type: 'gauge', labels: ['state'] },
  switchboard_call_oldest_wait_seconds: { type: 'gauge', labels: [] },
  switchboard_agents: { type: 'gauge', labels: ['status', 'state'] },
  switchboard_calls_offered_total: { type: 'counter', labels: [] },
  switchboard_calls_answered_total: { type: 'counter', labels: [] },
  switchboard_calls_missed_total: { type: 'counter', labels: [] },
  process_cpu_seconds_total: { type: 'counter', labels: [] },
  process_resident_memory_bytes: { type: 'gauge', labels: [] },
  process_open_fds: { type: 'gauge', labels: [] },
  process_start_time_seconds: { type: 'gauge', labels: [] },
};
// Labels Prometheus adds to every series it scrapes (and `up`, its own series per target).
const TARGET_LABELS = ['job', 'instance'];

/** The contract entry of a series name (NAME, or NAME_bucket/_sum/_count of a histogram), or null. */
function metricOf(name) {
  if (METRICS[name]) return { name, ...METRICS[name] };
  const match = name.match(/^(.*)_(bucket|sum|count)$/);
  if (match && METRICS[match[1]]?.type === 'histogram') {
    return { name: match[1], ...METRICS[match[1]], labels: [...METRICS[match[1]].labels, ...(match[2] === 'bucket' ? ['le'] : [])] };
  }
  return null;
}

/**
 * Every series name a PromQL expression reads, and the labels it names: in selectors (`{role="x"}`)
 * and in `by (…)`/`without (…)` clauses. Strings are blanked first, so label values are not names.
 */
function promqlNames(expr) {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const series = [...text.matchAll(/\b((?:switchboard|process)_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1]);
  const selectorLabels = [...text.matchAll(/\b([a-z_][a-z0-9_]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1],
    labels: [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]),
  }));
  const grouping = [...text.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)]
    .flatMap((m) => m[1].split(',').map((l) => l.trim()).filter(Boolean));
  return { series, selectorLabels, grouping };
}

// Gauges read from the shared database show the same value on every node: summed over nodes they
// would count each thing once per node, so they are aggregated with max().
const SUMMED_DATABASE_GAUGE =
  /\bsum\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*switchboard_(?:commands|command_oldest_unacknowledged_seconds|bot_connected|calls|call_oldest_wait_seconds|agents)\b/;

/** Checks one expression against the contract; returns the contract names it uses. */
function checkExpr(where, expr) {
  const { series, selectorLabels, grouping } = promqlNames(expr);
  assert.ok(series.length > 0, `${where}: reads no Switchboard metric: ${expr}`);
  const used = new Set();
  const known = new Set(TARGET_LABELS);
  for (const name of series) {
    if (name === 'up') continue;
    const metric = metricOf(name);
    assert.ok(metric, `${where}: ${name} is not a metric of the contract (tests/js/deploy.test.mjs, METRICS): ${expr}`);
    used.add(metric.name);
    metric.labels.forEach((label) => known.add(label));
  }
  for (const { metric, labels } of selectorLabels) {
    const allowed = metric === 'up' ? TARGET_LABELS : [...TARGET_LABELS, ...(metricOf(metric)?.labels ?? [])];
    for (const label of labels) {
      assert.ok(allowed.includes(label), `${where}: ${metric} has no label \`${label}\`: ${expr}`);
    }
  }
  for (const label of grouping) {
    assert.ok(known.has(label), `${where}: no metric of the expression has the label \`${label}\`: ${expr}`);
  }
  return used;
}

// ------------------------------------------------------------------------------------------------
// Tools and files.

/** The path of `command` on PATH, or null. */
function which(command) {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/**
 * For a test that needs `command`: its path; or, when it is missing, skips the test (a failure with
 * CI=true when `requiredInCi`, since scripts/test installs it) and returns null.
 */
function tool(t, command, { requiredInCi }) {
  const found = which(command);
  if (found) return found;
  if (requiredInCi && CI) assert.fail(`${command} is not installed (scripts/test installs it)`);
  t.skip(`${command} is not installed`);
  return null;
}

/** Runs a command; returns {status, out} with stdout and stderr together. */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  return { status: result.status, out: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Every file under `dir` (relative to the repository), recursively. */
function filesUnder(dir) {
  const full = path.join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full).flatMap((name) => {
    const rel = path.join(dir, name);
    return statSync(path.join(root, rel)).isDirectory() ? filesUnder(rel) : [rel];
  });
}

const yamlOptions = { merge: true, uniqueKeys: true };
const loadYaml = (file) => parse(read(file), yamlOptions);
const loadYamlAll = (file) => parseAllDocuments(read(file), yamlOptions).map((doc) => doc.toJS());

/** `20s`, `1m30s`, `30` → seconds. */
function seconds(duration) {
  if (typeof duration === 'number') return duration;
  const match = String(duration).match(/^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$/);
  assert.ok(match && duration !== '', `not a duration: ${duration}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

// ------------------------------------------------------------------------------------------------
// The binary: its subcommands, flags and variables, from its own --help.

function help(...args) {
  assert.ok(existsSync(BIN), `no switchboard binary at ${BIN} (set SWITCHBOARD_BIN, or cargo build -p switchboard)`);
  return execFileSync(BIN, [...args, '--help'], { encoding: 'utf8' });
}
let binaryCache;
function binary() {
  if (binaryCache) return binaryCache;
  const top = help();
  const commands = new Set([...top.split(/^Options:/m)[0].matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]));
  const texts = [top, help('serve'), help('receiver'), help('sender'), help('callcenter')];
  const variables = new Set(texts.flatMap((text) => [...text.matchAll(/\[env: ([A-Z0-9_]+)=?[^\]]*\]/g)].map((m) => m[1])));
  const flags = new Set(texts.flatMap((text) => [...text.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1])));
  binaryCache = { commands, variables, flags };
  return binaryCache;
}

/** The drain and shutdown grace a set of variables gives (the binary's defaults: 0 and 10). */
function stopTimes(env) {
  return {
    drain: Number(env.SWITCHBOARD_DRAIN_SECONDS ?? 0),
    grace: Number(env.SWITCHBOARD_SHUTDOWN_GRACE_SECONDS ?? 10),
  };
}

const validKey = () => `${'0123456789abcdef'.repeat(4)}\n`;

/**
 * Starts the real binary with `args` and the SWITCHBOARD_* settings of a deploy file, as the file
 * runs it, except for what only exists where it is deployed: the store and the key file go to a
 * temporary folder, and each role listens on a free local port. A file that runs on PostgreSQL with
 * a key given as a secret (`postgres`) gets a scratch schema of SWITCHBOARD_TEST_POSTGRES (which
 * scripts/test sets) and a valid key file made beforehand, as there; without that server, a SQLite
 * file and a key the node makes (SQLite refuses a new store beside an existing key). Checks that every
 * role answers /readyz and /healthz with 200, runs `check` on the running node, then stops it with
 * SIGTERM: with a drain, /readyz answers 503 while /healthz still answers 200, and a second SIGTERM
 * ends it; it exits 0.
 */
async function runWithSettings(what, args, settings, { postgres = false, check } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-deploy-'));
  const env = { PATH: process.env.PATH, HOME: dir, ...settings };
  const schema = postgres && process.env.SWITCHBOARD_TEST_POSTGRES ? scratchSchema(process.env.SWITCHBOARD_TEST_POSTGRES) : null;
  env.SWITCHBOARD_DATABASE_URL = schema ? schema.url : `sqlite://${path.join(dir, 'switchboard.db')}`;
  env.SWITCHBOARD_ENCRYPTION_KEY = path.join(dir, 'encryption.key');
  if (schema) writeFileSync(env.SWITCHBOARD_ENCRYPTION_KEY, validKey(), { mode: 0o600 });
  for (const role of ['RECEIVER', 'SENDER', 'CALLCENTER']) {
    if (`SWITCHBOARD_${role}_LISTEN` in env || args[0] === 'serve') env[`SWITCHBOARD_${role}_LISTEN`] = '127.0.0.1:0';
  }
  const roles = args[0] === 'serve' ? 3 : 1;
  const child = spawn(BIN, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const urls = await new Promise((resolve, reject) => {
      const found = {};
      const timer = setTimeout(() => reject(new Error(`${what}: no "listening" line in 20 s:\n${stderr}`)), 20_000);
      exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`${what}: switchboard ${args.join(' ')} exited with ${code}:\n${stderr}`)); });
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const match = line.match(/^switchboard (\w+) listening on (\S+)$/);
        if (match) found[match[1]] = match[2];
        if (Object.keys(found).length === roles) { clearTimeout(timer); resolve(found); }
      });
    });
    for (const [role, url] of Object.entries(urls)) {
      for (const probe of ['/readyz', '/healthz']) {
        const status = (await fetch(`${url}${probe}`)).status;
        assert.equal(status, 200, `${what}: ${role} ${probe} answered ${status}`);
      }
    }
    if (check) await check(urls, env);
    const { drain } = stopTimes(settings);
    child.kill('SIGTERM');
    if (drain > 0) {
      const [role, url] = Object.entries(urls)[0];
      let status;
      for (let i = 0; i < 50 && status !== 503; i++) {
        status = (await fetch(`${url}/readyz`)).status;
        if (status !== 503) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 503, `${what}: ${role} /readyz while draining`);
      assert.equal((await fetch(`${url}/healthz`)).status, 200, `${what}: ${role} /healthz while draining`);
      child.kill('SIGTERM');
    }
    const end = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 15_000))]);
    assert.deepEqual(end, { code: 0, signal: null }, `${what}: after SIGTERM:\n${stderr}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    schema?.drop();
  }
}

/** Asserts that every SWITCHBOARD_* name in `text` is a variable of the binary. */
function assertKnownVariables(file, names) {
  const { variables } = binary();
  for (const name of names) {
    assert.ok(variables.has(name), `${file}: ${name} is not a variable of switchboard (see switchboard serve --help)`);
  }
}

// ------------------------------------------------------------------------------------------------
// Every YAML file.

test('every YAML file under deploy/ and .github/ parses, without duplicate keys, and the dashboard is JSON', () => {
  const files = [...filesUnder('deploy'), ...filesUnder('.github')].filter((file) => /\.ya?ml$/.test(file));
  assert.ok(files.length >= 10, `only ${files.length} YAML files found`);
  for (const file of files) {
    for (const doc of parseAllDocuments(read(file), yamlOptions)) {
      assert.deepEqual(doc.errors.map(String), [], `${file} does not parse`);
      assert.deepEqual(doc.warnings.map(String), [], `${file} has YAML warnings`);
    }
  }
  JSON.parse(read('deploy/grafana/switchboard.json'));
});

test('every SWITCHBOARD_* variable in deploy/ is one switchboard reads', () => {
  for (const file of filesUnder('deploy')) {
    const names = new Set([...read(file).matchAll(/\bSWITCHBOARD_[A-Z0-9_]+\b/g)].map((m) => m[0]));
    assertKnownVariables(file, names);
  }
});

test('docs/deploy.md names every file of deploy/ and the CI workflow', () => {
  const docs = read('docs/deploy.md');
  for (const file of [...filesUnder('deploy'), '.github/workflows/ci.yaml', '.dockerignore']) {
    assert.ok(docs.includes(file), `docs/deploy.md does not mention ${file}`);
  }
});

// ------------------------------------------------------------------------------------------------
// The image.

/** The Dockerfile's instructions: {op, args, stage} with continuation lines joined, comments gone. */
function dockerfile() {
  const lines = read('deploy/Dockerfile').split('\n').filter((line) => !/^\s*#/.test(line));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  let stage = -1;
  return joined.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const [, op, args] = line.match(/^(\w+)\s+(.*)$/);
    if (op.toUpperCase() === 'FROM') stage += 1;
    return { op: op.toUpperCase(), args, stage };
  });
}

function dockerEnv(instructions) {
  const env = {};
  for (const { op, args } of instructions.filter((i) => i.op === 'ENV')) {
    for (const [, name, value] of args.matchAll(/([A-Z0-9_]+)=(\S+)/g)) env[name] = value;
  }
  return env;
}

test('the Dockerfile builds with the same function as scripts/run, and its image is as documented', () => {
  const instructions = dockerfile();
  const froms = instructions.filter((i) => i.op === 'FROM').map((i) => i.args);
  assert.ok(froms.some((from) => /^rust:1-bookworm AS build$/i.test(from)), `no rust:1-bookworm build stage: ${froms}`);
  assert.equal(froms.at(-1), 'debian:bookworm-slim', 'the image is Debian 12 slim');
  const last = Math.max(...instructions.map((i) => i.stage));
  const runtime = instructions.filter((i) => i.stage === last);

  // The build: scripts/lib.sh's build_release, as scripts/run; never a cargo command of its own.
  const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs, /\. scripts\/lib\.sh; build_release;/, 'the Dockerfile does not call build_release from scripts/lib.sh');
  assert.doesNotMatch(runs, /cargo build|npm run build/, 'the Dockerfile builds by itself instead of build_release');
  const scriptsRun = read('scripts/run');
  assert.match(scriptsRun, /^\. scripts\/lib\.sh$/m, 'scripts/run does not source scripts/lib.sh');
  assert.match(scriptsRun, /^build_release$/m, 'scripts/run does not call build_release');
  assert.doesNotMatch(scriptsRun, /cargo build|build_console/, 'scripts/run builds by itself instead of build_release');
  const lib = read('scripts/lib.sh');
  const body = lib.match(/^build_release\(\) \{\n([\s\S]*?)\n\}/m);
  assert.ok(body, 'scripts/lib.sh has no build_release function');
  assert.deepEqual(body[1].split('\n').map((line) => line.trim()), [
    'build_console || return 1',
    'cargo build --release --locked -p switchboard',
  ]);
  assert.match(runs, /target\/release\/switchboard/, 'the image does not take the binary build_release made');

  // What the build copies exists and is not left out of the context by .dockerignore.
  const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  for (const pattern of ['.git', 'target', 'data', '**/node_modules', 'console/dist']) {
    assert.ok(ignored.includes(pattern), `.dockerignore does not leave out ${pattern}`);
  }
  for (const { args } of instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
    const sources = args.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      assert.ok(existsSync(path.join(root, source)), `COPY ${source}: no such file`);
      assert.ok(!ignored.includes(source), `COPY ${source}, which .dockerignore leaves out`);
    }
  }

  // Every member of the cargo workspace is inside what the build copies (cargo refuses a missing one).
  const copied = instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  const members = [...read('Cargo.toml').match(/^members = \[([\s\S]*?)\]/m)[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(members.length > 5, 'no workspace members found in Cargo.toml');
  for (const member of members) {
    assert.ok(copied.some((source) => member === source || member.startsWith(`${source}/`)), `the Dockerfile does not copy the workspace member ${member}`);
  }

  // The image: a non-root user, data on a volume, the three ports, a health check, `switchboard serve`.
  const one = (op) => {
    const found = runtime.filter((i) => i.op === op);
    assert.equal(found.length, 1, `the image has ${found.length} ${op}`);
    return found[0].args;
  };
  assert.equal(one('USER'), '10001:10001');
  assert.equal(one('VOLUME'), '["/var/lib/switchboard"]');
  assert.deepEqual(one('EXPOSE').split(/\s+/), ['5001', '5002', '8000']);
  assert.match(one('HEALTHCHECK'), /\/readyz/);
  assert.equal(one('ENTRYPOINT'), '["switchboard"]');
  assert.equal(one('CMD'), '["serve"]');
  const env = dockerEnv(runtime);
  assertKnownVariables('deploy/Dockerfile', Object.keys(env));
  assert.equal(env.SWITCHBOARD_DATABASE_URL, 'sqlite:///var/lib/switchboard/switchboard.db', 'the store is on the volume');
  assert.equal(env.SWITCHBOARD_ENCRYPTION_KEY, '/var/lib/switchboard/encryption.key', 'the key is on the volume');
  assert.equal(env.SWITCHBOARD_RECEIVER_LISTEN, '0.0.0.0:5001');
  assert.equal(env.SWITCHBOARD_SENDER_LISTEN, '0.0.0.0:5002');
  assert.equal(env.SWITCHBOARD_CALLCENTER_LISTEN, '0.0.0.0:8000');
  assert.match(runs, /useradd [^\n]*--uid 10001/, 'the user 10001 is not made');
  assert.match(runs, /install -d -o 10001 -g 10001 -m 0700 \/var\/lib\/switchboard/, 'the volume is not the user\'s');
});

test("the image's command, settings and health check work on the real binary", async () => {
  const runtime = dockerfile().filter((i, _, all) => i.stage === Math.max(...all.map((x) => x.stage)));
  const env = dockerEnv(runtime);
  const cmd = JSON.parse(runtime.find((i) => i.op === 'CMD').args);
  const healthcheck = runtime.find((i) => i.op === 'HEALTHCHECK').args.replace(/^.*?\bCMD\s+/, '');
  assert.ok(which('curl'), 'curl is needed to run the image\'s health check here');
  await runWithSettings('deploy/Dockerfile', cmd, env, {
    check: async (urls) => {
      // The health check as the image runs it, with the ports this node got instead of 8000 5002 5001.
      const ports = [urls.callcenter, urls.sender, urls.receiver].map((url) => new URL(url).port).join(' ');
      assert.match(healthcheck, /for port in 8000 5002 5001;/);
      const command = healthcheck.replace('8000 5002 5001', ports);
      assert.equal(run('sh', ['-c', command]).status, 0, `the health check fails on a ready node: ${command}`);
      const refused = healthcheck.replace('8000 5002 5001', '1');
      assert.equal(run('sh', ['-c', refused]).status, 1, 'the health check passes with no node');
    },
  });
});

// ------------------------------------------------------------------------------------------------
// Compose.

/** Compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error} in every string of `value`. */
function interpolate(value, vars) {
  if (typeof value === 'string') {
    return value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_, name, op, arg) => {
      const set = vars[name];
      if (op === ':-') return set || arg;
      if (op === '-') return set ?? arg;
      if (op === ':?' || op === '?') {
        assert.ok(op === '?' ? set !== undefined : set, `\${${name}} is required: ${arg}`);
        return set;
      }
      return set ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, vars)]));
  }
  return value;
}

const composeVars = { POSTGRES_PASSWORD: 'c0ffee', SWITCHBOARD_ADMIN_PASSWORD: 'compose admin password' };
const envOf = (service) => Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));
const published = (service) => (service.ports ?? []).map(String).sort();

/** HAProxy's check timing from deploy/haproxy.cfg: seconds until a failing node is out. */
function haproxyOutAfter(file) {
  const match = read(file).match(/default-server inter (\d+)s fall (\d+)/);
  assert.ok(match, `${file}: no default-server inter/fall`);
  return Number(match[1]) * Number(match[2]);
}

test('compose.yaml: one node on SQLite, built from deploy/Dockerfile, its data on a volume', () => {
  const compose = interpolate(loadYaml('deploy/compose.yaml'), composeVars);
  assert.deepEqual(Object.keys(compose.services), ['switchboard']);
  const node = compose.services.switchboard;
  assert.equal(path.resolve(root, 'deploy', node.build.context), root);
  assert.equal(node.build.dockerfile, 'deploy/Dockerfile');
  assert.deepEqual(node.command, ['serve']);
  assert.deepEqual(published(node), ['5001:5001', '5002:5002', '8000:8000']);
  assert.deepEqual(node.volumes, ['data:/var/lib/switchboard']);
  assert.ok('data' in compose.volumes);
  const env = envOf(node);
  assertKnownVariables('deploy/compose.yaml', Object.keys(env));
  const { drain, grace } = stopTimes(env);
  assert.ok(seconds(node.stop_grace_period) > drain + grace, 'stop_grace_period is not above drain + shutdown grace');
});

test('compose.cluster.yaml: three nodes on PostgreSQL 15 behind HAProxy, sharing one key', () => {
  const compose = interpolate(loadYaml('deploy/compose.cluster.yaml'), composeVars);
  const services = compose.services;
  const nodes = Object.keys(services).filter((name) => /^switchboard-\d+$/.test(name));
  assert.deepEqual(nodes, ['switchboard-1', 'switchboard-2', 'switchboard-3']);
  assert.match(services.postgres.image, /^postgres:15(-|$)/);
  assert.match(services.haproxy.image, /^haproxy:2\.6(-|$)/, 'HAProxy 2.6, as Debian 12 and the tests have');
  assert.deepEqual(published(services.haproxy), ['5001:5001', '5002:5002', '8000:8000']);
  assert.deepEqual(services.haproxy.volumes, ['./haproxy.compose.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
  const proxyAddress = services.haproxy.networks.switchboard.ipv4_address;
  const subnet = compose.networks.switchboard.ipam.config[0].subnet;
  assert.ok(proxyAddress.startsWith(subnet.replace(/0\/24$/, '')), `${proxyAddress} is not in ${subnet}`);

  // Every `server` line of the compose variant names one of the nodes.
  const servers = [...read('deploy/haproxy.compose.cfg').matchAll(/^\s*server \S+ ([a-z0-9-]+):(\d+)/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(servers)].sort(), nodes);

  const secretFile = compose.secrets.encryption_key.file;
  assert.equal(secretFile, './encryption.key');
  for (const name of nodes) {
    const node = services[name];
    assert.deepEqual(node.command, ['serve'], name);
    assert.equal(node.ports, undefined, `${name} publishes ports: only HAProxy should`);
    assert.equal(path.resolve(root, 'deploy', node.build.context), root);
    assert.equal(node.build.dockerfile, 'deploy/Dockerfile');
    assert.deepEqual(node.secrets, ['encryption_key']);
    assert.equal(node.depends_on.postgres.condition, 'service_healthy');
    const env = envOf(node);
    assertKnownVariables('deploy/compose.cluster.yaml', Object.keys(env));
    const url = new URL(env.SWITCHBOARD_DATABASE_URL);
    assert.equal(url.protocol, 'postgres:');
    assert.equal(url.hostname, 'postgres');
    assert.equal(url.username, services.postgres.environment.POSTGRES_USER);
    assert.equal(url.password, services.postgres.environment.POSTGRES_PASSWORD);
    assert.equal(url.pathname, `/${services.postgres.environment.POSTGRES_DB}`);
    assert.equal(env.SWITCHBOARD_ENCRYPTION_KEY, '/run/secrets/encryption_key');
    assert.equal(env.SWITCHBOARD_ADMIN_PASSWORD, composeVars.SWITCHBOARD_ADMIN_PASSWORD);
    assert.equal(env.SWITCHBOARD_LIMITS_TRUSTED_PROXIES, proxyAddress, 'the nodes trust HAProxy\'s address');
    const { drain, grace } = stopTimes(env);
    assert.ok(drain > haproxyOutAfter('deploy/haproxy.compose.cfg'), 'the drain is shorter than HAProxy takes to take a node out');
    assert.ok(seconds(node.stop_grace_period) > drain + grace, `${name}: stop_grace_period is not above drain + shutdown grace`);
  }
});

test("the compose files' node settings work on the real binary", async () => {
  const single = interpolate(loadYaml('deploy/compose.yaml'), composeVars).services.switchboard;
  const cluster = interpolate(loadYaml('deploy/compose.cluster.yaml'), composeVars).services['switchboard-1'];
  const image = dockerEnv(dockerfile());
  await runWithSettings('deploy/compose.yaml', single.command, { ...image, ...envOf(single) });
  await runWithSettings('deploy/compose.cluster.yaml', cluster.command, { ...image, ...envOf(cluster) }, {
    postgres: true,
    check: async (urls, env) => {
      // The admin password every node is given works.
      const response = await fetch(`${urls.sender}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: env.SWITCHBOARD_ADMIN_PASSWORD }),
      });
      assert.equal(response.status, 200, 'admin cannot log in with SWITCHBOARD_ADMIN_PASSWORD');
    },
  });
});

// ------------------------------------------------------------------------------------------------
// HAProxy for compose.

/** The lines of an HAProxy file from `defaults` on, without comments, blank lines and `server` lines. */
function haproxyBody(file) {
  const text = read(file);
  return text.slice(text.indexOf('\ndefaults ')).split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trimEnd())
    .filter((line) => line.trim() && !line.trim().startsWith('#') && !line.trim().startsWith('server '));
}

test('haproxy.compose.cfg is deploy/haproxy.cfg with the compose services as its servers', () => {
  assert.deepEqual(haproxyBody('deploy/haproxy.compose.cfg'), haproxyBody('deploy/haproxy.cfg'));
  const servers = (file) => [...read(file).matchAll(/^\s*server (\S+) (\S+):(\d+)(?: cookie (\S+))?/gm)]
    .map(([, name, , port, cookie]) => `${name}:${port}:${cookie ?? ''}`);
  assert.deepEqual(servers('deploy/haproxy.compose.cfg'), servers('deploy/haproxy.cfg'));
});

test('HAProxy accepts haproxy.compose.cfg (haproxy -c)', (t) => {
  const haproxy = tool(t, process.env.HAPROXY_PATH ?? 'haproxy', { requiredInCi: true });
  if (!haproxy) return;
  const { status, out } = run(haproxy, ['-c', '-f', path.join(root, 'deploy/haproxy.compose.cfg')]);
  assert.equal(status, 0, out);
  // The compose services' names do not resolve here; nothing else may be warned about.
  const warnings = out.split('\n').filter((line) => line.includes('[WARNING]'));
  for (const warning of warnings) {
    assert.match(warning, /could not resolve address 'switchboard-\d'/, `haproxy -c warns: ${warning}`);
  }
});

// ------------------------------------------------------------------------------------------------
// systemd.

/** The unit's settings: {Section: {Key: [values]}}. */
function unit() {
  const sections = {};
  let section;
  for (const raw of read('deploy/switchboard.service').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = line.match(/^\[(\w+)\]$/);
    if (header) { section = sections[header[1]] = {}; continue; }
    const [, key, value] = line.match(/^(\w+)=(.*)$/);
    (section[key] ??= []).push(value);
  }
  return sections;
}

function unitEnv(service) {
  return Object.fromEntries(service.Environment.map((assignment) => assignment.split(/=(.*)/s).slice(0, 2)));
}

test('switchboard.service: a dedicated user, its state directory, hardening, and a stop timeout above the drain', () => {
  const { Service: service, Install: install } = unit();
  const one = (key) => {
    assert.equal(service[key]?.length, 1, `${key}= is not set once`);
    return service[key][0];
  };
  assert.equal(one('User'), 'switchboard');
  assert.equal(one('StateDirectory'), 'switchboard');
  const [exe, ...args] = one('ExecStart').split(/\s+/);
  assert.equal(exe, '/usr/local/bin/switchboard');
  assert.ok(binary().commands.has(args[0]), `switchboard has no subcommand ${args[0]}`);
  for (const arg of args.filter((a) => a.startsWith('--'))) assert.ok(binary().flags.has(arg.split('=')[0]), arg);
  for (const [key, value] of Object.entries({
    NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes',
    Restart: 'on-failure', CapabilityBoundingSet: '', RestrictSUIDSGID: 'yes', MemoryDenyWriteExecute: 'yes',
  })) {
    assert.equal(one(key), value, `${key}=`);
  }
  assert.ok(Number(one('LimitNOFILE')) >= 16384, 'LimitNOFILE below 16384 (HAProxy may send a node 5,000 connections)');
  const env = unitEnv(service);
  assertKnownVariables('deploy/switchboard.service', Object.keys(env));
  assert.equal(env.SWITCHBOARD_DATABASE_URL, 'sqlite:///var/lib/switchboard/switchboard.db', 'the store is in the state directory');
  assert.equal(env.SWITCHBOARD_ENCRYPTION_KEY, '/var/lib/switchboard/encryption.key', 'the key is in the state directory');
  const { drain, grace } = stopTimes(env);
  assert.ok(drain > haproxyOutAfter('deploy/haproxy.cfg'), 'the drain is shorter than HAProxy takes to take a node out');
  assert.ok(seconds(one('TimeoutStopSec')) > drain + grace, 'TimeoutStopSec is not above drain + shutdown grace');
  assert.deepEqual(install.WantedBy, ['multi-user.target']);
});

test("the systemd unit's command and settings work on the real binary", async () => {
  const service = unit().Service;
  const args = service.ExecStart[0].split(/\s+/).slice(1);
  await runWithSettings('deploy/switchboard.service', args, unitEnv(service));
});

test('systemd-analyze verifies switchboard.service, and rates its exposure low', (t) => {
  const analyze = tool(t, 'systemd-analyze', { requiredInCi: false });
  if (!analyze) return;
  // The unit as installed, but starting this binary: verify checks that ExecStart= exists.
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-unit-'));
  try {
    const file = path.join(dir, 'switchboard.service');
    writeFileSync(file, read('deploy/switchboard.service').replace('ExecStart=/usr/local/bin/switchboard', `ExecStart=${path.resolve(BIN)}`));
    const verify = run(analyze, ['verify', file]);
    assert.equal(verify.status, 0, verify.out);
    assert.equal(verify.out.trim(), '', `systemd-analyze verify warns:\n${verify.out}`);
    // 0 is the safest, 10 the most exposed; 2 and below is rated "OK".
    const security = run(analyze, ['security', '--offline=yes', '--threshold=20', file]);
    assert.equal(security.status, 0, security.out);
    assert.match(security.out, /Overall exposure level for switchboard\.service: [01]\.\d OK/, security.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------------
// Kubernetes.

const K8S = 'deploy/kubernetes';
const ROLE_PORTS = { receiver: 5001, sender: 5002, callcenter: 8000 };

/** The objects kustomization.yaml lists, and the kustomization itself. */
function kubernetes() {
  const kustomization = loadYaml(`${K8S}/kustomization.yaml`);
  const objects = kustomization.resources.flatMap((file) => {
    assert.ok(existsSync(path.join(root, K8S, file)), `kustomization.yaml lists ${file}, which does not exist`);
    return loadYamlAll(`${K8S}/${file}`);
  });
  return { kustomization, objects };
}
const ofKind = (objects, kind) => objects.filter((o) => o.kind === kind);
const matches = (selector, labels) => Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** A container's SWITCHBOARD_* settings: its ConfigMaps (envFrom), then its own env, as Kubernetes does. */
function containerEnv(container, objects, secret) {
  const env = {};
  for (const from of container.envFrom ?? []) {
    const map = ofKind(objects, 'ConfigMap').find((m) => m.metadata.name === from.configMapRef?.name);
    assert.ok(map, `envFrom: no ConfigMap ${from.configMapRef?.name}`);
    Object.assign(env, map.data);
  }
  for (const { name, value, valueFrom } of container.env ?? []) {
    if (value !== undefined) env[name] = String(value);
    const ref = valueFrom?.secretKeyRef;
    if (ref) {
      assert.equal(ref.name, secret.metadata.name, `${name}: no Secret ${ref.name}`);
      if (ref.key in secret.stringData) env[name] = secret.stringData[ref.key];
      else assert.ok(ref.optional, `${name}: the Secret has no key ${ref.key}`);
    }
  }
  return env;
}

test('kustomization.yaml lists every manifest but the example Secret', () => {
  const { kustomization } = kubernetes();
  const files = readdirSync(path.join(root, K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.filter((f) => f !== 'secret.example.yaml').sort());
  assert.equal(kustomization.namespace, undefined, 'the manifests are namespace-less');
  assert.deepEqual(kustomization.images.map((i) => i.name), ['switchboard']);
});

test('Kubernetes: a Deployment per role with probes, non-root, limits on stopping, a Service and a PDB', () => {
  const { objects } = kubernetes();
  const secret = loadYaml(`${K8S}/secret.example.yaml`);
  assert.equal(secret.kind, 'Secret');
  const deployments = ofKind(objects, 'Deployment');
  assert.deepEqual(deployments.map((d) => d.spec.template.spec.containers[0].args[0]).sort(), Object.keys(ROLE_PORTS).sort());
  for (const deployment of deployments) {
    const name = deployment.metadata.name;
    const pod = deployment.spec.template;
    assert.ok(matches(deployment.spec.selector.matchLabels, pod.metadata.labels), `${name}: its selector does not select its pods`);
    const spec = pod.spec;
    assert.equal(spec.containers.length, 1);
    const container = spec.containers[0];
    const role = container.args[0];
    assert.ok(binary().commands.has(role), `switchboard has no subcommand ${role}`);
    assert.equal(container.image, 'switchboard', `${name}: the image is set by kustomization.yaml`);
    const port = ROLE_PORTS[role];
    const ports = Object.fromEntries(container.ports.map((p) => [p.name, p.containerPort]));
    assert.deepEqual(Object.values(ports), [port], `${name}: the container port`);
    const portOf = (value) => (typeof value === 'number' ? value : ports[value]);

    const env = containerEnv(container, objects, secret);
    assertKnownVariables(`${K8S}: ${name}`, Object.keys(env));
    assert.equal(env[`SWITCHBOARD_${role.toUpperCase()}_LISTEN`], `0.0.0.0:${port}`, `${name}: listens on the container port`);
    assert.equal(env.SWITCHBOARD_ENCRYPTION_KEY, '/etc/switchboard/secret/encryption.key');
    assert.match(env.SWITCHBOARD_DATABASE_URL, /^postgres:\/\//, `${name}: on PostgreSQL`);

    // Probes: ready on /readyz, alive on /healthz, both on the role's port.
    assert.equal(container.readinessProbe.httpGet.path, '/readyz', `${name}: readiness`);
    assert.equal(portOf(container.readinessProbe.httpGet.port), port, `${name}: readiness port`);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz', `${name}: liveness`);
    assert.equal(portOf(container.livenessProbe.httpGet.port), port, `${name}: liveness port`);
    assert.equal(portOf(container.startupProbe.httpGet.port), port, `${name}: startup port`);

    // Stopping: the drain outlasts the readiness probe's failures, and Kubernetes waits for both.
    const { drain, grace } = stopTimes(env);
    const probe = container.readinessProbe;
    assert.ok(drain > probe.periodSeconds * probe.failureThreshold, `${name}: the drain is shorter than readiness takes to fail`);
    assert.ok(spec.terminationGracePeriodSeconds > drain + grace, `${name}: terminationGracePeriodSeconds is not above drain + shutdown grace`);
    assert.equal(spec.enableServiceLinks, false, `${name}: Service links would add SWITCHBOARD_*_PORT variables`);

    // Non-root, read-only, no privilege; requests set.
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(spec.securityContext.runAsUser, 10001, 'the image\'s user');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory, `${name}: no resource requests`);

    // The key file comes from the Secret, readable by the pod's group.
    const keyVolume = spec.volumes.find((v) => v.secret);
    assert.equal(keyVolume.secret.secretName, secret.metadata.name);
    for (const item of keyVolume.secret.items) assert.ok(item.key in secret.stringData, `the Secret has no ${item.key}`);
    assert.equal(keyVolume.secret.defaultMode, 0o440);
    assert.equal(spec.securityContext.fsGroup, 10001);
    const mount = container.volumeMounts.find((m) => m.name === keyVolume.name);
    assert.equal(path.join(mount.mountPath, keyVolume.secret.items[0].path), env.SWITCHBOARD_ENCRYPTION_KEY);

    // Exactly one PDB and one Service select its pods.
    const pdbs = ofKind(objects, 'PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, pod.metadata.labels));
    assert.equal(pdbs.length, 1, `${name}: ${pdbs.length} PodDisruptionBudgets select it`);
    assert.ok(pdbs[0].spec.minAvailable >= 1 && pdbs[0].spec.minAvailable < deployment.spec.replicas, `${name}: the PDB would block every eviction, or allow losing all pods`);
    const services = ofKind(objects, 'Service').filter((s) => matches(s.spec.selector, pod.metadata.labels));
    assert.equal(services.length, 1, `${name}: ${services.length} Services select it`);
    assert.equal(portOf(services[0].spec.ports[0].targetPort), port, `${name}: the Service's target port`);
  }
  for (const pdb of ofKind(objects, 'PodDisruptionBudget')) {
    assert.equal(deployments.filter((d) => matches(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)).length, 1, `${pdb.metadata.name} selects one Deployment`);
  }
});

test('Kubernetes: the Ingress routes each host to its role, sticky by cookie, and matches the console settings', () => {
  const { objects } = kubernetes();
  const [ingress, metrics] = ofKind(objects, 'Ingress');
  const annotations = ingress.metadata.annotations;
  assert.equal(annotations['nginx.ingress.kubernetes.io/affinity'], 'cookie');
  assert.equal(annotations['nginx.ingress.kubernetes.io/affinity-mode'], 'persistent');
  assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 60, 'long-polling needs more than the 25 s ping interval');
  assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 60);
  const services = Object.fromEntries(ofKind(objects, 'Service').map((s) => [s.metadata.name, s]));
  const hostOf = {};
  for (const rule of ingress.spec.rules) {
    const backend = rule.http.paths[0].backend.service;
    const service = services[backend.name];
    assert.ok(service, `${rule.host}: no Service ${backend.name}`);
    assert.ok(service.spec.ports.some((p) => p.name === backend.port.name), `${backend.name} has no port ${backend.port.name}`);
    hostOf[service.spec.selector['app.kubernetes.io/component']] = rule.host;
  }
  assert.deepEqual(Object.keys(hostOf).sort(), Object.keys(ROLE_PORTS).sort());
  assert.deepEqual([...ingress.spec.tls[0].hosts].sort(), Object.values(hostOf).sort());
  const settings = ofKind(objects, 'ConfigMap')[0].data;
  assert.equal(settings.SWITCHBOARD_CONSOLE_RECEIVER_URL, `https://${hostOf.receiver}`);
  assert.equal(settings.SWITCHBOARD_CONSOLE_SENDER_URL, `https://${hostOf.sender}`);
  assert.equal(settings.SWITCHBOARD_CORS_ORIGINS, `https://${hostOf.callcenter}`);
  // /metrics is refused on every host.
  assert.equal(metrics.metadata.annotations['nginx.ingress.kubernetes.io/denylist-source-range'], '0.0.0.0/0,::/0');
  assert.deepEqual(metrics.spec.rules.map((r) => r.host).sort(), Object.values(hostOf).sort());
  for (const rule of metrics.spec.rules) assert.deepEqual(rule.http.paths.map((p) => [p.path, p.pathType]), [['/metrics', 'Exact']]);
});

test("each Deployment's command and settings work on the real binary", async () => {
  const { objects } = kubernetes();
  const secret = loadYaml(`${K8S}/secret.example.yaml`);
  for (const deployment of ofKind(objects, 'Deployment')) {
    const container = deployment.spec.template.spec.containers[0];
    const env = containerEnv(container, objects, secret);
    const role = container.args[0];
    await runWithSettings(`${K8S}: ${deployment.metadata.name}`, container.args, env, {
      postgres: true,
      check: async (urls) => {
        const url = urls[role];
        if (role === 'callcenter') {
          // The console finds the receiver and the sender at their public URLs.
          const config = await (await fetch(`${url}/console/config.json`)).json();
          assert.equal(config.receiver.url, env.SWITCHBOARD_CONSOLE_RECEIVER_URL);
          assert.equal(config.sender.url, env.SWITCHBOARD_CONSOLE_SENDER_URL);
        }
        if (role === 'sender') {
          // The Secret's admin password works, and the console's origin may call the sender.
          const response = await fetch(`${url}/api/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', origin: env.SWITCHBOARD_CORS_ORIGINS },
            body: JSON.stringify({ username: 'admin', password: env.SWITCHBOARD_ADMIN_PASSWORD }),
          });
          assert.equal(response.status, 200, 'admin cannot log in with the Secret\'s admin-password');
          assert.equal(response.headers.get('access-control-allow-origin'), env.SWITCHBOARD_CORS_ORIGINS);
        }
      },
    });
  }
});

test('kubectl kustomize builds deploy/kubernetes with the image set', (t) => {
  const kubectl = tool(t, 'kubectl', { requiredInCi: false });
  if (!kubectl) return;
  const { status, out } = run(kubectl, ['kustomize', path.join(root, K8S)]);
  assert.equal(status, 0, out);
  const built = parseAllDocuments(out).map((doc) => doc.toJS());
  const { kustomization, objects } = kubernetes();
  assert.deepEqual(built.map((o) => `${o.kind}/${o.metadata.name}`).sort(), objects.map((o) => `${o.kind}/${o.metadata.name}`).sort());
  const { newName, newTag } = kustomization.images[0];
  for (const deployment of ofKind(built, 'Deployment')) {
    assert.equal(deployment.spec.template.spec.containers[0].image, `${newName}:${newTag}`);
  }
});

test('kubernetes-validate accepts the manifests against the Kubernetes API schemas (strict)', (t) => {
  const validate = tool(t, 'kubernetes-validate', { requiredInCi: false });
  if (!validate) return;
  const files = readdirSync(path.join(root, K8S)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => path.join(root, K8S, f));
  const { status, out } = run(validate, ['--strict', '--quiet', ...files]);
  assert.equal(status, 0, out);
});

test('check-jsonschema accepts the compose files and the CI workflow against their published schemas', (t) => {
  const check = tool(t, 'check-jsonschema', { requiredInCi: false });
  if (!check) return;
  for (const [schema, files] of [
    ['vendor.compose-spec', ['deploy/compose.yaml', 'deploy/compose.cluster.yaml']],
    ['vendor.github-workflows', ['.github/workflows/ci.yaml']],
  ]) {
    const { status, out } = run(check, ['--builtin-schema', schema, ...files.map((f) => path.join(root, f))]);
    assert.equal(status, 0, out);
  }
});

// ------------------------------------------------------------------------------------------------
// Prometheus and Grafana.

test('promtool accepts the alert rules and the example configuration', (t) => {
  const promtool = tool(t, 'promtool', { requiredInCi: true });
  if (!promtool) return;
  for (const args of [['check', 'rules', 'alerts.yaml'], ['check', 'config', 'prometheus.yml']]) {
    const { status, out } = run(promtool, args, { cwd: path.join(root, 'deploy/prometheus') });
    assert.equal(status, 0, `promtool ${args.join(' ')}:\n${out}`);
  }
});

test("promtool runs the rules' unit tests, which test every alert firing and not firing", (t) => {
  const rules = loadYaml('deploy/prometheus/alerts.yaml').groups.flatMap((g) => g.rules);
  const tests = loadYaml('deploy/prometheus/alerts.test.yaml').tests.flatMap((c) => c.alert_rule_test ?? []);
  for (const rule of rules) {
    const cases = tests.filter((c) => c.alertname === rule.alert);
    assert.ok(cases.some((c) => c.exp_alerts.length > 0), `no test where ${rule.alert} fires`);
    assert.ok(cases.some((c) => c.exp_alerts.length === 0), `no test where ${rule.alert} stays silent`);
    assert.ok(rule.labels?.severity, `${rule.alert} has no severity`);
    assert.ok(rule.annotations?.summary && rule.annotations?.description, `${rule.alert} lacks a summary or description`);
  }
  assert.deepEqual(
    rules.map((r) => r.alert).sort(),
    ['SwitchboardBotOffline', 'SwitchboardCommandsStuck', 'SwitchboardDatabaseSlow', 'SwitchboardDatabaseWritesFailing',
      'SwitchboardHighErrorRate', 'SwitchboardNodeDown', 'SwitchboardQueueWaitingTooLong'],
  );
  const promtool = tool(t, 'promtool', { requiredInCi: true });
  if (!promtool) return;
  const { status, out } = run(promtool, ['test', 'rules', 'alerts.test.yaml'], { cwd: path.join(root, 'deploy/prometheus') });
  assert.equal(status, 0, out);
  assert.match(out, /SUCCESS/);
});

test('the alert rules use only the documented metrics and labels, and database gauges with max()', () => {
  const rules = loadYaml('deploy/prometheus/alerts.yaml').groups.flatMap((g) => g.rules);
  for (const rule of rules) {
    checkExpr(`alert ${rule.alert}`, rule.expr);
    assert.doesNotMatch(rule.expr, SUMMED_DATABASE_GAUGE, `${rule.alert} sums a gauge read from the database`);
  }
});

/** Every panel of the dashboard (rows' own panels included) that has queries. */
function dashboardPanels(dashboard) {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

test('the dashboard: a data source variable, panels in the grid, only documented metrics, every metric shown', () => {
  const dashboard = JSON.parse(read('deploy/grafana/switchboard.json'));
  const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
  assert.equal(variables.DS_PROMETHEUS?.type, 'datasource');
  assert.equal(variables.DS_PROMETHEUS.query, 'prometheus');
  const datasource = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
  for (const variable of Object.values(variables).filter((v) => v.type === 'query')) {
    assert.deepEqual(variable.datasource, datasource, `variable ${variable.name}`);
    checkExpr(`variable ${variable.name}`, variable.definition.replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
  }
  const used = new Set();
  const ids = new Set();
  const panels = dashboardPanels(dashboard);
  assert.ok(panels.length >= 20, `${panels.length} panels`);
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} twice`);
    ids.add(panel.id);
    const { x, w } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title}: outside the grid`);
  }
  for (const panel of panels) {
    assert.deepEqual(panel.datasource, datasource, `${panel.title}: data source`);
    assert.ok(panel.targets.length > 0, `${panel.title}: no query`);
    for (const target of panel.targets) {
      assert.deepEqual(target.datasource, datasource, `${panel.title}: data source of ${target.refId}`);
      checkExpr(`panel "${panel.title}"`, target.expr).forEach((name) => used.add(name));
      assert.doesNotMatch(target.expr, SUMMED_DATABASE_GAUGE, `${panel.title}: sums a gauge read from the database`);
    }
  }
  assert.deepEqual(Object.keys(METRICS).filter((name) => !used.has(name)), [], 'metrics the dashboard does not show');
});

test("promtool parses every dashboard query", (t) => {
  const promtool = tool(t, 'promtool', { requiredInCi: true });
  if (!promtool) return;
  const dashboard = JSON.parse(read('deploy/grafana/switchboard.json'));
  // Each query as a recording rule, with Grafana's variables as Prometheus would receive them.
  const rules = dashboardPanels(dashboard).flatMap((panel) => panel.targets.map((target) => ({
    record: `dashboard:panel_${panel.id}_${target.refId}`,
    expr: target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*'),
  })));
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-dashboard-'));
  try {
    const file = path.join(dir, 'dashboard-queries.yaml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { status, out } = run(promtool, ['check', 'rules', file]);
    assert.equal(status, 0, out);
    assert.match(out, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------------------------------------
// CI.

test('the CI workflow runs .ci/run in Debian 12 on pushes and pull requests, and pushes the image on tags', () => {
  const workflow = loadYaml('.github/workflows/ci.yaml');
  assert.ok('push' in workflow.on && 'pull_request' in workflow.on);
  assert.deepEqual(workflow.on.push.tags, ['v*']);
  const { test: testJob, image } = workflow.jobs;
  assert.equal(testJob.container, 'rust:1-bookworm');
  assert.ok(testJob.steps.some((s) => s.run === 'bash .ci/run'), 'no step runs bash .ci/run');
  assert.ok(testJob.steps.some((s) => s.uses?.startsWith('actions/cache@')), 'cargo is not cached');
  assert.equal(read('.ci/run').trim().split('\n').at(-1), 'exec bash scripts/test', '.ci/run is no longer scripts/test');
  assert.equal(image.if, "startsWith(github.ref, 'refs/tags/v')");
  assert.deepEqual(image.needs, 'test');
  assert.equal(image.permissions.packages, 'write');
  const build = image.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
  assert.ok(build, 'no docker/build-push-action step');
  assert.equal(build.with.file, 'deploy/Dockerfile');
  assert.equal(build.with.context, '.');
  assert.equal(build.with.push, true);
  const meta = image.steps.find((s) => s.uses?.startsWith('docker/metadata-action@'));
  assert.equal(meta.with.images, 'ghcr.io/${{ github.repository }}');
});

test('docs/deploy.md documents every metric of the contract, with its type and labels', () => {
  const docs = read('docs/deploy.md');
  const section = docs.slice(docs.indexOf('## Metrics'), docs.indexOf('## Alerts and dashboard'));
  const documented = new Map();
  for (const line of section.split('\n').filter((l) => /^\| `/.test(l))) {
    const [names, type, labels] = line.split(' | ').map((cell) => cell.replace(/^\| /, ''));
    // Label cells name values in parentheses after a label: only the names count.
    const labelNames = labels === '—' ? [] : [...labels.replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    for (const [, name] of names.matchAll(/`([a-z_]+)`/g)) documented.set(name, { type, labels: labelNames });
  }
  for (const [name, { type, labels }] of Object.entries(METRICS)) {
    const row = documented.get(name);
    assert.ok(row, `${name} is not in the table of docs/deploy.md`);
    if (!name.startsWith('process_')) {
      assert.equal(row.type, type, `${name}: type`);
      assert.deepEqual(row.labels, labels, `${name}: labels`);
    }
  }
});
