/**
 * The `vetted` command. `serve` runs the server; the other commands talk to a running server's
 * admin API (see client.ts), except `audit verify --home`, which reads a stopped server's index
 * directly. Exit codes: 0 admitted or done, 2 something is not admitted, 1 error.
 */
import { parseArgs } from 'node:util';
import { createClient } from './client';
import type { ApiClient } from './client';
import { serve } from './serve';
import { verifyAuditOffline } from './offline';
import { attestCommand, checkCommand } from './check';
import { isVettedError } from '../errors';
import { storeDamagedReason } from '../gate/respond';

const HELP = `vetted: an npm registry that serves a version only after verifying it

Usage:
  vetted serve [--config FILE] [--listen HOST:PORT] [--home DIR] [--upstream URL]
  vetted status <spec...> [--json]
  vetted verify <spec...> [--wait SECONDS] [--json]
  vetted approve|deny|revoke|reverify <spec...> --reason TEXT [--json]
  vetted audit verify [--home DIR] [--json]
  vetted audit list [--limit N] [--json]
  vetted check <lockfile | project dir | node_modules> [--wait] [--timeout SECONDS] [--sbom FILE]
               [--attest FILE] [--json]
  vetted attest verify FILE [--lockfile FILE] [--key PEM_FILE] [--json]

A spec is name, name@version, name@range or name@tag; decisions take name@version only.
Commands other than serve talk to the server at --url (env VETTED_URL, default
http://127.0.0.1:4873) with VETTED_TOKEN or the npm token saved for that registry
(npm login --registry <url>).

Exit codes: 0 admitted or done, 2 something is not admitted, 1 error.`;

const ADMITTED = new Set(['verified', 'approved']);

export async function main(argv: string[]): Promise<number> {
  // check and attest have flags of their own (`--wait` is a switch there)
  if (argv[0] === 'check') return withJsonErrors(argv, () => checkCommand(argv.slice(1)));
  if (argv[0] === 'attest') return withJsonErrors(argv, () => attestCommand(argv.slice(1)));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      home: { type: 'string' },
      upstream: { type: 'string' },
      url: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean', default: false },
      wait: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return command || values.help ? 0 : 1;
  }
  const out = new Output(values.json);
  try {
    return await run(command, args, values, out);
  } catch (err) {
    if (!values.json) throw err;
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
    return 1;
  }
}

async function withJsonErrors(argv: string[], run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (!argv.includes('--json')) throw err;
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
    return 1;
  }
}

type Values = {
  config?: string;
  listen?: string;
  home?: string;
  upstream?: string;
  url?: string;
  reason?: string;
  wait?: string;
  limit?: string;
};

async function run(command: string, args: string[], values: Values, out: Output): Promise<number> {
  switch (command) {
    case 'serve':
      await serve(values);
      return new Promise<number>(() => {}); // runs until a signal
    case 'status':
      return status(createClient(values.url), need(args, 'status'), out);
    case 'verify':
      return verify(createClient(values.url), need(args, 'verify'), values.wait, out);
    case 'approve':
    case 'deny':
    case 'revoke':
    case 'reverify':
      return decide(createClient(values.url), command, need(args, command), values.reason, out);
    case 'audit':
      return audit(args, values, out);
    default:
      process.stderr.write(`vetted: unknown command ${command}\n\n${HELP}\n`);
      return 1;
  }
}

function need(args: string[], command: string): string[] {
  if (args.length === 0)
    throw new Error(
      `${command} needs at least one package spec, e.g. vetted ${command} express@4.18.2`,
    );
  return args;
}

class Output {
  constructor(readonly json: boolean) {}
  data(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
  line(text: string): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }
}

type Row = Record<string, unknown> & {
  name?: string;
  version?: string;
  status?: string;
  error?: string;
};

function describe(row: Row): string {
  if (row.error) return `${row.spec ?? ''}  error: ${row.error}`;
  const id = `${row.name}@${row.version}`;
  const layers = Array.isArray(row.layers)
    ? (row.layers as Array<{ layer: string; outcome: string }>)
        .map((l) => `${l.layer} ${l.outcome}`)
        .join(', ')
    : '';
  const reasons =
    Array.isArray(row.reasons) && row.reasons.length > 0
      ? `\n    ${(row.reasons as string[]).join('\n    ')}`
      : '';
  const warnings =
    Array.isArray(row.warnings) && row.warnings.length > 0
      ? `\n    warning: ${(row.warnings as string[]).join('\n    warning: ')}`
      : '';
  // a decision (approve, deny, revoke) keeps its why in `reason`, with who made it
  const by = row.decidedBy as { kind?: string; name?: string } | undefined;
  const decision =
    typeof row.reason === 'string' && row.reason
      ? `\n    ${String(row.status)} by ${by?.name ?? 'unknown'}${row.decidedAt ? ` at ${String(row.decidedAt)}` : ''}: ${row.reason}`
      : '';
  const damaged = row.storeDamaged ? `\n    NOT SERVABLE: ${storeDamagedReason(id)}` : '';
  return `${id}  ${row.status}${layers ? `  (${layers})` : ''}${damaged}${decision}${reasons}${warnings}`;
}

function failed(res: { status: number; body: Record<string, unknown> }): Error | undefined {
  if (res.status < 400) return undefined;
  return new Error(
    `${String(res.body.error ?? `HTTP ${res.status}`)}${res.body.code ? ` [${String(res.body.code)}]` : ''}`,
  );
}

async function status(client: ApiClient, specs: string[], out: Output): Promise<number> {
  const res = await client.post('/status', { specs });
  const err = failed(res);
  if (err) throw err;
  const rows = res.body.results as Row[];
  out.data(rows);
  for (const row of rows) out.line(describe(row));
  return exitFor(rows);
}

async function verify(
  client: ApiClient,
  specs: string[],
  wait: string | undefined,
  out: Output,
): Promise<number> {
  const seconds = wait === undefined ? 0 : Number(wait);
  if (!(seconds >= 0)) throw new Error('--wait expects a number of seconds');
  const res = await client.post('/verify', { specs });
  const err = failed(res);
  if (err) throw err;
  let rows = res.body.results as Row[];
  const deadline = Date.now() + seconds * 1000;
  while (seconds > 0 && rows.some((r) => r.status === 'pending') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const pending = rows.filter((r) => r.status === 'pending').map((r) => `${r.name}@${r.version}`);
    const again = await client.post('/status', { specs: pending });
    if (failed(again)) break;
    const fresh = new Map((again.body.results as Row[]).map((r) => [`${r.name}@${r.version}`, r]));
    rows = rows.map((r) => fresh.get(`${r.name}@${r.version}`) ?? r);
    if (!out.json)
      process.stderr.write(
        `\rwaiting: ${rows.filter((r) => r.status === 'pending').length} pending   `,
      );
  }
  if (seconds > 0 && !out.json) process.stderr.write('\n');
  out.data(rows);
  for (const row of rows) out.line(row.queued ? `${describe(row)}  (queued)` : describe(row));
  return seconds > 0 ? exitFor(rows) : rows.some((r) => r.error) ? 1 : 0;
}

async function decide(
  client: ApiClient,
  action: string,
  specs: string[],
  reason: string | undefined,
  out: Output,
): Promise<number> {
  if (!reason) throw new Error(`${action} needs --reason "why", recorded in the audit log`);
  const results: Row[] = [];
  let code = 0;
  for (const spec of specs) {
    const { name, version } = exactSpec(spec);
    const res = await client.post(
      `/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}/${action}`,
      { reason },
    );
    const err = failed(res);
    if (err) {
      results.push({ spec, name, version, error: err.message });
      code = 1;
    } else {
      results.push({ spec, ...res.body });
    }
  }
  out.data(results);
  for (const row of results) {
    if (row.error) out.line(`${row.name}@${row.version}  error: ${row.error}`);
    else {
      const alt =
        Array.isArray(row.alternatives) && row.alternatives.length > 0
          ? `  admitted alternatives: ${(row.alternatives as string[]).join(', ')}`
          : '';
      out.line(
        `${row.name}@${row.version}  ${row.status}${row.queued ? ' (re-verification queued)' : ''}${alt}`,
      );
    }
  }
  return code;
}

async function audit(
  args: string[],
  values: { home?: string; url?: string; limit?: string },
  out: Output,
): Promise<number> {
  const sub = args[0] ?? 'verify';
  if (sub === 'verify') {
    const home = values.home;
    const result =
      home && !values.url
        ? await offlineOrServer(home, values.url)
        : await fromServer(createClient(values.url));
    out.data(result);
    if (result.ok) out.line(`audit log intact: ${result.entries} entries`);
    else
      out.line(
        `audit log BROKEN at entry ${result.firstBroken?.seq}: ${result.firstBroken?.problem}`,
      );
    return result.ok ? 0 : 2;
  }
  if (sub === 'list') {
    const res = await createClient(values.url).get(
      `/audit?tail=${Number(values.limit ?? 100) || 100}`,
    );
    const err = failed(res);
    if (err) throw err;
    const entries = res.body.entries as Array<Record<string, unknown>>;
    out.data(entries);
    for (const e of entries) {
      const actor = e.actor as { name?: string } | undefined;
      out.line(
        `${e.seq}  ${e.at}  ${e.action}  ${e.name}@${e.version}  ${e.status ?? ''}  by ${actor?.name ?? '?'}${e.reason ? `: ${e.reason}` : ''}`,
      );
    }
    return 0;
  }
  throw new Error(`unknown audit command ${sub}; use verify or list`);
}

/** Reads the index directly; while a server holds it, asks that server instead. */
async function offlineOrServer(home: string, url: string | undefined) {
  try {
    return await verifyAuditOffline(home);
  } catch (err) {
    if (!isVettedError(err, 'INDEX_LOCKED')) throw err;
    process.stderr.write(`vetted: ${err.message}; asking the server instead\n`);
    return fromServer(createClient(url));
  }
}

async function fromServer(client: ApiClient) {
  const res = await client.get('/audit/verify');
  const err = failed(res);
  if (err) throw err;
  return res.body as {
    ok: boolean;
    entries: number;
    firstBroken?: { seq: number; problem: string };
  };
}

function exactSpec(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf('@');
  if (at <= 0) throw new Error(`${spec}: give an exact version, e.g. ${spec}@1.2.3`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

function exitFor(rows: Row[]): number {
  if (rows.some((r) => r.error)) return 1;
  return rows.every((r) => ADMITTED.has(String(r.status)) && !r.storeDamaged) ? 0 : 2;
}
