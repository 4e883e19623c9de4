/**
 * `vetted check <lockfile | project dir | node_modules>`: the whole tree against the index in
 * one call. Prints what is not admitted with every path that leads to it and the newest
 * admitted replacement its parents accept; `--wait` queues everything unknown at once and shows
 * progress until the verdicts are in; over `node_modules` it also compares the installed files
 * with the verified tarballs. `--sbom` writes CycloneDX, `--attest` a signed statement.
 * `vetted attest verify FILE` checks such a statement.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from './client';
import type { ApiClient, ApiResponse } from './client';
import { loadTree } from '../tree/lockfiles';
import { pathsTo } from '../tree/graph';
import type { DependencyGraph } from '../tree/graph';
import type { NodeResult, TreeResponse } from '../tree/status';
import { buildSbom } from '../tree/sbom';
import { verifyEnvelope } from '../tree/attest';
import type { Envelope } from '../tree/attest';
import { compareInstalled, tarballFileHashes } from '../tree/installed';
import type { InstalledDiff } from '../tree/installed';
import { VettedError, errorMessage } from '../errors';
import ssri from 'ssri';
import { STATUSES, isAdmitted } from '../types';
import type { Status } from '../types';

export const CHECK_HELP = `Usage:
  vetted check <package-lock.json | yarn.lock | pnpm-lock.yaml | project dir | node_modules>
               [--wait] [--timeout SECONDS] [--sbom FILE] [--attest FILE] [--json] [--url URL]
  vetted attest verify FILE [--lockfile FILE] [--key PEM_FILE] [--json] [--url URL]

check exits 0 when every package is admitted (and, for node_modules, unchanged on disk),
2 when something is not, 1 on error.`;

const ORDER = [
  'verified',
  'approved',
  'pending',
  'held',
  'rejected',
  'denied',
  'revoked',
  'unknown',
  'invalid',
];
const BATCH = 5_000;

interface CheckFlags {
  json: boolean;
  wait: boolean;
  timeout: number;
  sbom?: string;
  attest?: string;
  url?: string;
}

export async function checkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '1800' },
      sbom: { type: 'string' },
      attest: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return values.help ? 0 : 1;
  }
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new Error('--timeout expects a number of seconds');
  return check(positionals[0]!, { ...values, timeout }, createClient(values.url));
}

async function check(target: string, flags: CheckFlags, client: ApiClient): Promise<number> {
  const graph = await loadTree(target);
  const nodes = [...graph.nodes.values()].map(({ name, version }) => ({ name, version }));
  const progress = new Progress(flags.json, nodes.length);
  let results = await statuses(client, nodes, { queue: false });

  if (flags.wait) {
    // queueing needs a login; a tree vetted has decided on already needs none
    const unknown = results.filter((r) => r.status === 'unknown');
    if (unknown.length > 0) {
      const queued = new Map(
        (await statuses(client, unknown, { queue: true })).map((r) => [keyOf(r), r]),
      );
      results = results.map((r) => queued.get(keyOf(r)) ?? r);
    }
    const deadline = Date.now() + flags.timeout * 1000;
    progress.show(results);
    while (results.some((r) => r.status === 'pending') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      const pending = results.filter((r) => r.status === 'pending');
      const fresh = new Map(
        (await statuses(client, pending, { queue: false })).map((r) => [keyOf(r), r]),
      );
      results = results.map((r) => fresh.get(keyOf(r)) ?? r);
      progress.show(results);
    }
    progress.done(results, Date.now() >= deadline);
  }

  // replacements for what is not admitted, from the ranges its parents declared
  const blocked = results.filter((r) => !isAdmitted(asStatus(r.status)) && r.status !== 'pending');
  if (blocked.length > 0) {
    const keys = new Set(blocked.map(keyOf));
    const res = await client.post('/tree', {
      nodes: blocked.map(({ name, version }) => ({ name, version })),
      edges: graph.edges.filter((e) => keys.has(e.to)),
      queue: false,
      replacements: true,
    });
    const replacements = new Map(
      treeBody(res).results.map((r) => [keyOf(r), r.replacement] as const),
    );
    // the first answer's status and reasons stand (they were given with `queue`)
    results = results.map((r) => {
      const replacement = replacements.get(keyOf(r));
      return replacement ? { ...r, replacement } : r;
    });
  }

  const installed =
    graph.source === 'node_modules' ? await checkInstalled(client, graph, results, progress) : [];
  const report = buildReport(graph, results, installed, new URL(client.url).host);

  if (flags.sbom) {
    writeFileSync(
      flags.sbom,
      buildSbom(graph, results, { registry: client.url, generatedAt: new Date() }),
    );
  }
  if (flags.attest) {
    if (graph.source === 'node_modules' || !graph.lockfile) {
      throw new Error('--attest covers a lockfile: run `vetted check <lockfile> --attest FILE`');
    }
    // the server parses the lockfile itself and signs only what it read and decided
    const res = await client.post('/tree/attest', {
      lockfile: { name: basename(graph.lockfile), text: readFileSync(graph.lockfile, 'utf8') },
    });
    if (res.status >= 400) throw apiError(res);
    writeFileSync(flags.attest, `${JSON.stringify(res.body.envelope, null, 2)}\n`);
  }

  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report, flags);
  return report.ok ? 0 : 2;
}

function keyOf(r: { name: string; version: string }): string {
  return `${r.name}@${r.version}`;
}

function apiError(res: ApiResponse): Error {
  return new Error(
    `${String(res.body.error ?? `HTTP ${res.status}`)}${res.body.code ? ` [${String(res.body.code)}]` : ''}`,
  );
}

function treeBody(res: ApiResponse): TreeResponse {
  if (res.status >= 400) throw apiError(res);
  return res.body as unknown as TreeResponse;
}

async function statuses(
  client: ApiClient,
  nodes: Array<{ name: string; version: string }>,
  options: { queue: boolean },
): Promise<NodeResult[]> {
  const out: NodeResult[] = [];
  for (let i = 0; i < nodes.length; i += BATCH) {
    const res = await client.post('/tree', {
      nodes: nodes.slice(i, i + BATCH).map(({ name, version }) => ({ name, version })),
      queue: options.queue,
      replacements: false,
    });
    out.push(...treeBody(res).results);
  }
  return out;
}

/** Fetches each admitted package's verified tarball through vetted and compares the files. */
async function checkInstalled(
  client: ApiClient,
  graph: DependencyGraph,
  results: NodeResult[],
  progress: Progress,
): Promise<Array<InstalledDiff & { name: string; version: string; error?: string }>> {
  const admitted = results.filter((r) => isAdmitted(asStatus(r.status)));
  const out: Array<InstalledDiff & { name: string; version: string; error?: string }> = [];
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < admitted.length) {
      const r = admitted[next++]!;
      const node = graph.nodes.get(keyOf(r));
      const locations = node?.locations ?? [];
      try {
        const res = await client.registry(tarballPath(r.name, r.version));
        if (res.status !== 200) {
          throw new Error(`vetted answered ${res.status} for the verified tarball`);
        }
        const expected = await tarballFileHashes(Buffer.from(await res.arrayBuffer()));
        for (const location of locations) {
          out.push({
            name: r.name,
            version: r.version,
            ...(await compareInstalled(location, expected)),
          });
        }
      } catch (err) {
        for (const location of locations) {
          out.push({
            name: r.name,
            version: r.version,
            location,
            modified: [],
            missing: [],
            added: [],
            error: errorMessage(err),
          });
        }
      }
      progress.step('comparing installed files', ++done, admitted.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, admitted.length) }, worker));
  progress.clear();
  return out.sort((a, b) => a.location.localeCompare(b.location));
}

function tarballPath(name: string, version: string): string {
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  const encoded = name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : name;
  return `/${encoded.replace('%2F', '/')}/-/${base}-${version}.tgz`;
}

interface Report {
  ok: boolean;
  source: string;
  path: string;
  total: number;
  counts: Record<string, number>;
  notAdmitted: Array<
    NodeResult & { paths: string[][]; pathCount: number; pathCountComplete: boolean }
  >;
  vulnerable: Array<{
    name: string;
    version: string;
    advisories: NonNullable<NodeResult['advisories']>;
  }>;
  installed?: {
    checked: number;
    changed: Array<InstalledDiff & { name: string; version: string; error?: string }>;
    /** Packages with files the tarball does not have (build output, or an addition). */
    withAddedFiles: Array<{ name: string; version: string; location: string; added: string[] }>;
  };
  /** Nodes whose lockfile integrity is not the integrity vetted verified. */
  integrityMismatch: Array<{ name: string; version: string; locked: string; verified: string }>;
  /** Nodes the lockfile fetches from a host that is neither vetted nor a default registry. */
  resolvedElsewhere: Array<{ name: string; version: string; resolved: string }>;
  skipped: DependencyGraph['skipped'];
  results: NodeResult[];
}

function buildReport(
  graph: DependencyGraph,
  results: NodeResult[],
  installed: Array<InstalledDiff & { name: string; version: string; error?: string }>,
  vettedHost: string,
): Report {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const notAdmitted = results
    .filter((r) => !isAdmitted(asStatus(r.status)))
    .sort(
      (a, b) =>
        ORDER.indexOf(b.status) - ORDER.indexOf(a.status) || keyOf(a).localeCompare(keyOf(b)),
    )
    .map((r) => {
      const { paths, total, complete } = pathsTo(graph, keyOf(r));
      return { ...r, paths, pathCount: total, pathCountComplete: complete };
    });
  const vulnerable = results
    .filter((r) => r.advisories && r.advisories.length > 0)
    .map((r) => ({ name: r.name, version: r.version, advisories: r.advisories! }));
  // a file the tarball lacks can change what `require` loads (an extensionless `index` beside
  // `index.js`): it counts as a change, unless the package runs install-time code, whose build
  // output is expected (and only noted)
  const builds = new Set(results.filter(runsInstallCode).map(keyOf));
  const changed = installed.filter(
    (d) =>
      d.error ||
      d.modified.length > 0 ||
      d.missing.length > 0 ||
      (d.added.length > 0 && !builds.has(keyOf(d))),
  );
  // the lockfile's integrity must be the one vetted verified
  const integrityMismatch = results.filter((r) => {
    const locked = graph.nodes.get(keyOf(r))?.integrity;
    return locked !== undefined && r.integrity !== undefined && !sameIntegrity(locked, r.integrity);
  });
  // `npm ci` fetches each `resolved` URL as written (npm and yarn rewrite only their default
  // registries to the configured one): a tarball from any other host never passes vetted
  const throughVetted = new Set([vettedHost, ...PUBLIC_REGISTRIES]);
  const resolvedElsewhere = [...graph.nodes.values()]
    .filter((n) => n.resolved !== undefined && !throughVetted.has(hostOf(n.resolved)))
    .map((n) => ({ name: n.name, version: n.version, resolved: n.resolved! }));
  const report: Report = {
    ok:
      notAdmitted.length === 0 &&
      changed.length === 0 &&
      integrityMismatch.length === 0 &&
      resolvedElsewhere.length === 0 &&
      !graph.skipped.some(unverifiable),
    source: graph.source,
    path: graph.path,
    total: results.length,
    counts,
    notAdmitted,
    vulnerable,
    integrityMismatch: integrityMismatch.map((r) => ({
      name: r.name,
      version: r.version,
      locked: graph.nodes.get(keyOf(r))?.integrity ?? '',
      verified: r.integrity ?? '',
    })),
    resolvedElsewhere,
    skipped: graph.skipped,
    results,
  };
  if (graph.source === 'node_modules') {
    report.installed = {
      checked: installed.length,
      changed,
      withAddedFiles: installed
        .filter((d) => d.added.length > 0 && builds.has(keyOf(d)))
        .map(({ name, version, location, added }) => ({ name, version, location, added })),
    };
  }
  return report;
}

/** Whether the verdict recorded install-time code (its build output is expected on disk). */
function runsInstallCode(r: NodeResult): boolean {
  return (r.warnings ?? []).some((w) => /^(INSTALL_SCRIPT|NATIVE_BUILD):/.test(w));
}

/** Registries npm and yarn replace with the configured one when they install a lockfile. */
const PUBLIC_REGISTRIES = ['registry.npmjs.org', 'registry.yarnpkg.com'];

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** Whether two SRI strings share a hash that matches. */
function sameIntegrity(a: string, b: string): boolean {
  return Boolean(ssri.parse(a).match(ssri.parse(b)));
}

function asStatus(status: string): Status | undefined {
  return (STATUSES as readonly string[]).includes(status) ? (status as Status) : undefined;
}

/** git, file and tarball-URL dependencies are code vetted did not verify. */
function unverifiable(entry: DependencyGraph['skipped'][number]): boolean {
  return !/^(link|workspace):/.test(entry.spec);
}

function printReport(report: Report, flags: CheckFlags): void {
  const w = (line = '') => process.stdout.write(`${line}\n`);
  const admitted = (report.counts.verified ?? 0) + (report.counts.approved ?? 0);
  const pct = (n: number) => `${((100 * n) / Math.max(1, report.total)).toFixed(1)}%`;
  w(`${report.path} (${report.source}): ${report.total} packages`);
  w(`  admitted  ${String(admitted).padStart(5)}  ${pct(admitted)}`);
  for (const status of ORDER.slice(2)) {
    const n = report.counts[status] ?? 0;
    if (n > 0) w(`  ${status.padEnd(8)}  ${String(n).padStart(5)}  ${pct(n)}`);
  }
  for (const r of report.notAdmitted) {
    w();
    w(`${r.name}@${r.version}  ${r.status.toUpperCase()}`);
    for (const reason of r.reasons.slice(0, 3)) w(`  why:  ${reason}`);
    if (r.reasons.length > 3)
      w(`        … ${r.reasons.length - 3} more (vetted status ${r.name}@${r.version})`);
    const shown = r.paths.slice(0, 5);
    w(
      `  blocks ${r.pathCount === 1 ? 'this path' : `these paths (${shown.length} of ${r.pathCountComplete ? '' : 'at least '}${r.pathCount})`}:`,
    );
    for (const path of shown) w(`        ${path.join(' > ')}`);
    if (r.replacement?.version) {
      w(
        `  use:  ${r.name}@${r.replacement.version}, the newest admitted version satisfying ${r.replacement.ranges.join(' and ') || 'its parents'}`,
      );
    } else if (r.replacement) {
      const others = r.replacement.otherAdmitted?.length
        ? ` (admitted: ${r.replacement.otherAdmitted.join(', ')})`
        : '';
      w(`  use:  nothing yet: ${r.replacement.note ?? 'no admitted version fits'}${others}`);
    }
    if (r.status === 'revoked')
      w(`  replace it with an admitted version (see above), then re-lock`);
  }
  if (report.vulnerable.length > 0) {
    w();
    w('Advisories:');
    for (const v of report.vulnerable) {
      for (const a of v.advisories) {
        w(`  ${v.name}@${v.version}  ${a.id}${a.malicious ? ' MALICIOUS' : ''}: ${a.summary}`);
      }
    }
  }
  if (report.installed) {
    w();
    w(
      `Installed files: ${report.installed.checked} package copies compared with their verified tarballs`,
    );
    for (const d of report.installed.changed) {
      w(`  CHANGED ${d.name}@${d.version} at ${d.location}`);
      if (d.error) w(`    could not compare: ${d.error}`);
      for (const f of d.modified) w(`    modified: ${f}`);
      for (const f of d.missing) w(`    missing:  ${f}`);
      for (const f of d.added) w(`    added:    ${f}`);
    }
    for (const d of report.installed.withAddedFiles) {
      w(
        `  note: ${d.name}@${d.version} has ${d.added.length} file(s) not in its tarball (${d.added.slice(0, 3).join(', ')}${d.added.length > 3 ? ', …' : ''})`,
      );
    }
  }
  const unverified = report.skipped.filter(unverifiable);
  if (unverified.length > 0) {
    w();
    w('Not from a registry (not verified by vetted):');
    for (const s of unverified) w(`  ${s.name} ${s.spec}`);
  }
  if (report.integrityMismatch.length > 0) {
    w();
    w('Lockfile integrity differs from what vetted verified:');
    for (const m of report.integrityMismatch) {
      w(
        `  ${m.name}@${m.version}  locked ${m.locked.slice(0, 24)}…  verified ${m.verified.slice(0, 24)}…`,
      );
    }
  }
  if (report.resolvedElsewhere.length > 0) {
    w();
    w('Fetched from elsewhere by the lockfile (not through vetted):');
    for (const r of report.resolvedElsewhere) w(`  ${r.name}@${r.version}  ${r.resolved}`);
  }
  w();
  const problems = [
    report.notAdmitted.length ? `${report.notAdmitted.length} package(s) not admitted` : '',
    report.installed?.changed.length
      ? `${report.installed.changed.length} installed copies changed`
      : '',
    report.integrityMismatch.length
      ? `${report.integrityMismatch.length} lockfile integrity mismatch(es)`
      : '',
    unverified.length ? `${unverified.length} dependency(ies) not from a registry` : '',
    report.resolvedElsewhere.length
      ? `${report.resolvedElsewhere.length} fetched from another host`
      : '',
  ].filter(Boolean);
  w(
    report.ok
      ? 'OK: every package is admitted.'
      : `NOT OK: ${problems.join(', ')}.${!flags.wait && report.counts.unknown ? ' Run with --wait to verify the unknown ones now.' : ''}`,
  );
}

/** A progress bar on stderr (a line every few seconds when stderr is not a terminal). */
class Progress {
  readonly #tty = process.stderr.isTTY === true;
  readonly #start = Date.now();
  #lastLine = 0;
  #lastText = '';

  constructor(
    readonly quiet: boolean,
    readonly total: number,
  ) {}

  show(results: NodeResult[]): void {
    const pending = results.filter((r) => r.status === 'pending').length;
    const decided = results.length - pending;
    const notOk = results.filter(
      (r) => !isAdmitted(asStatus(r.status)) && r.status !== 'pending',
    ).length;
    this.#write(
      `verifying ${bar(decided, results.length)} ${decided}/${results.length} decided · ${pending} pending · ${notOk} not admitted · ${Math.round((Date.now() - this.#start) / 1000)}s`,
    );
  }

  step(label: string, done: number, total: number): void {
    this.#write(`${label} ${bar(done, total)} ${done}/${total}`);
  }

  done(results: NodeResult[], timedOut: boolean): void {
    this.show(results);
    this.clear();
    if (timedOut && !this.quiet) {
      process.stderr.write(
        'vetted: --timeout reached; what is still pending is reported as pending\n',
      );
    }
  }

  clear(): void {
    if (this.#tty && this.#lastText) process.stderr.write('\n');
    this.#lastText = '';
  }

  #write(text: string): void {
    if (text === this.#lastText) return;
    if (this.#tty) {
      process.stderr.write(`\r${text}\x1b[K`);
    } else if (Date.now() - this.#lastLine > 3000 || /\b(\d+)\/\1\b/.test(text)) {
      process.stderr.write(`${text}\n`);
      this.#lastLine = Date.now();
    }
    this.#lastText = text;
  }
}

function bar(done: number, total: number, width = 24): string {
  const full = total === 0 ? width : Math.floor((width * done) / total);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export async function attestCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lockfile: { type: 'string' },
      key: { type: 'string' },
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub, file] = positionals;
  if (sub !== 'verify' || !file) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return 1;
  }
  const envelope = JSON.parse(readFileSync(file, 'utf8')) as Envelope;
  const keys = new Map<string, string>();
  if (values.key) {
    const pem = readFileSync(values.key, 'utf8');
    try {
      createPublicKey(pem);
    } catch (err) {
      throw new VettedError(
        'SPEC_INVALID',
        `${values.key} is not a PEM public key (${errorMessage(err)}); save the server's key from \`GET /-/vetted/api/keys\` (its publicKey field)`,
      );
    }
    const keyid = envelope.signatures?.[0]?.keyid ?? '';
    keys.set(keyid, pem);
  } else {
    const res = await createClient(values.url).get('/keys');
    if (res.status >= 400) throw apiError(res);
    for (const k of res.body.keys as Array<{ keyId: string; publicKey: string }>) {
      keys.set(k.keyId, k.publicKey);
    }
  }
  const problems: string[] = [];
  let summary: Record<string, unknown> = {};
  try {
    const { keyId, statement } = verifyEnvelope(envelope, keys);
    summary = {
      keyId,
      subject: statement.subject,
      generatedAt: statement.predicate.generatedAt,
      admitted: statement.predicate.admitted,
      summary: statement.predicate.summary,
    };
    if (values.lockfile) {
      const digest = createHash('sha256').update(readFileSync(values.lockfile)).digest('hex');
      if (!statement.subject.some((s) => s.digest.sha256 === digest)) {
        problems.push(
          `${values.lockfile} is not the lockfile this statement covers (sha256 ${digest})`,
        );
      }
    }
  } catch (err) {
    problems.push(errorMessage(err));
  }
  const ok = problems.length === 0;
  if (values.json)
    process.stdout.write(`${JSON.stringify({ ok, problems, ...summary }, null, 2)}\n`);
  else if (ok) {
    const subject = (summary.subject as Array<{ name: string; digest: { sha256: string } }>)[0]!;
    process.stdout.write(
      `attestation OK: signed by ${String(summary.keyId)} at ${String(summary.generatedAt)} over ${subject.name} (sha256 ${subject.digest.sha256.slice(0, 16)}…); ${summary.admitted ? 'every package admitted' : 'NOT every package admitted'}: ${JSON.stringify(summary.summary)}\n`,
    );
  } else process.stdout.write(`attestation INVALID: ${problems.join('; ')}\n`);
  return ok ? 0 : 2;
}
