/**
 * The composition root of the engine: opens the index, the store and the queue under `home`,
 * builds the upstream client, the policy and the layers, and wires them together. The Verdaccio
 * plugin calls `createVetted` once; so do tests. No Verdaccio types here.
 */
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { buffer } from 'node:stream/consumers';
import semver from 'semver';
import { join } from 'node:path';
import { openDatabase, versionKey } from './index/database';
import type { Sublevels } from './index/database';
import { loadOrCreateSigner } from './index/signer';
import { VerifiedIndex } from './index/verified-index';
import { JobQueue } from './queue/job-queue';
import { createTarballStore } from './store/tarball-store';
import type { TarballStore } from './store/tarball-store';
import { createUpstream } from './registry/upstream';
import { createLocalPackages, withLocalPackages } from './registry/local-packages';
import type { LocalPackages } from './registry/local-packages';
import type { Upstream } from './registry/upstream';
import { createVersionCheck } from './registry/version-check';
import type { VersionExistsFn } from './registry/version-check';
import { loadPolicy } from './policy/policy';
import type { Policy } from './policy/schema';
import { createEngine } from './verify/engine';
import { staticPrecheck } from './verify/layers/static-precheck';
import { jsSignals } from './verify/layers/js-signals';
import { createAdvisoriesLayer } from './verify/layers/advisories';
import { loadAdvisories } from './advisories/osv';
import type { AdvisoryDb, AdvisoryMatch } from './advisories/osv';
import { applyDecision } from './admin/decisions';
import { createBehaviourLayer } from './verify/layers/behaviour';
import { createPublisherLayerFor } from './verify/layers/publisher-setup';
import { createSourceLayer } from './verify/layers/source-integrity';
import type { VettedOptions } from './config/options';
import type { Logger } from './log/logger';
import { installProcLogBridge } from './log/proc-log-bridge';
import type { VersionRecord } from './types';
import { isAdmitted } from './types';
import type { PreviousVersion } from './verify/layer';
import { errorMessage } from './errors';
import { Exemptions } from './admin/exemptions';
import { RevokedSessions } from './admin/revoked-sessions';
import { WebhookOutbox } from './admin/webhook';
import { createMetrics } from './admin/metrics';
import type { VettedMetrics } from './admin/metrics';

export interface Vetted {
  options: VettedOptions;
  index: VerifiedIndex;
  queue: JobQueue;
  store: TarballStore;
  upstream: Upstream;
  /** Packages published to vetted itself; undefined when Verdaccio has no storage directory. */
  local?: LocalPackages;
  policy: Policy;
  /** Whether the upstream has `name@version`; undefined when it cannot be asked. */
  versionExists: VersionExistsFn;
  /** Known advisories (OSV), when configured. */
  advisories?: AdvisoryDb;
  startedAt: Date;
  /** Admins' standing approvals; consulted at verdict time (src/admin/exemptions.ts). */
  exemptions: Exemptions;
  /** Console sessions logged out before their expiry (src/admin/revoked-sessions.ts). */
  revokedSessions: RevokedSessions;
  /** Present when `webhook` is configured. */
  webhook?: WebhookOutbox;
  metrics: VettedMetrics;
  close(): Promise<void>;
}

const instances = new Set<Vetted>();
let mounted = false;

/** Called by the plugin when Verdaccio mounts it; `vetted serve` refuses to listen otherwise. */
export function markMounted(): void {
  mounted = true;
}

export function isMounted(): boolean {
  return mounted;
}

/** Remembers a running engine so the process can close it on shutdown. */
export function registerInstance(vetted: Vetted): void {
  instances.add(vetted);
}

/** The engine this process serves with (the metadata filter plugin reaches it here). */
export function currentInstance(): Vetted | undefined {
  return [...instances].at(-1);
}

/** Closes every engine this process started (queue first, then the database). */
export async function closeAllInstances(): Promise<void> {
  const all = [...instances];
  instances.clear();
  await Promise.all(all.map((v) => v.close().catch(() => {})));
}

/** Where things live under `home`. */
export function homePaths(home: string) {
  return {
    index: join(home, 'index'),
    keys: join(home, 'keys'),
    tarballs: join(home, 'tarballs'),
    cache: join(home, 'cache'),
  };
}

export async function createVetted(options: VettedOptions, logger: Logger): Promise<Vetted> {
  const paths = homePaths(options.home);
  installProcLogBridge(logger);
  mkdirSync(options.home, { recursive: true, mode: 0o700 });
  const policy = loadPolicy(options.policy);
  const signer = loadOrCreateSigner(paths.keys);
  const subs: Sublevels = await openDatabase(paths.index);
  await removeStaleWorkspaces(2 * options.jobTimeoutMs, logger);
  const index = await VerifiedIndex.open(subs, signer, {
    cacheMax: options.cacheMax,
    onTampered: (key) =>
      logger.error(
        { key, code: 'INDEX_RECORD_TAMPERED' },
        'index record @{key} fails its signature; treated as absent',
      ),
  });
  if (index.compromised) {
    logger.error(
      { err: index.compromised },
      'AUDIT ALERT: the audit log does not match its signed head (@{err}); no stored verdict is trusted until each version is re-verified',
    );
  }
  const store = createTarballStore(paths.tarballs);
  const remote = createUpstream({ registry: options.upstream, cache: paths.cache });
  const local = options.storage ? createLocalPackages(options.storage, subs.publishers) : undefined;
  const upstream =
    local && options.storage ? withLocalPackages(remote, local, options.storage) : remote;
  const previousOf = createPreviousLookup(index, store, logger);
  const advisories = options.advisories ? loadAdvisories(options.advisories) : undefined;
  if (advisories) {
    logger.info(
      { count: advisories.size, withdrawn: advisories.withdrawn, from: advisories.source },
      'advisories: @{count} in force (@{withdrawn} withdrawn skipped) from @{from}',
    );
  }
  const behaviour = createBehaviourLayer({
    upstream: options.upstream,
    npmCache: join(paths.cache, 'behaviour-npm'),
    expectations: (pkg) =>
      Object.hasOwn(policy.behaviour, pkg.name) ? policy.behaviour[pkg.name] : undefined,
  });
  // first, so a look-alike name is the first reason a 403 gives
  const publisher = createPublisherLayerFor({
    registry: options.upstream,
    identity: options.identity,
    packument: (name, signal) => upstream.packument(name, signal),
  });
  const source = createSourceLayer({
    upstream: options.upstream,
    root: join(options.home, 'sources'),
    ...options.sources,
  });
  const engine = createEngine({
    upstream,
    store,
    policy,
    previousOf,
    admittedOf: async (name) =>
      (await index.list({ name })).filter((r) => isAdmitted(r.status)).map((r) => r.version),
    layers: [
      publisher,
      ...(advisories ? [createAdvisoriesLayer(advisories)] : []),
      staticPrecheck,
      jsSignals,
      source,
      behaviour,
    ],
  });
  const exemptions = await Exemptions.open(subs.db, index);
  const revokedSessions = await RevokedSessions.open(subs.db);
  const queue = await JobQueue.open(
    subs,
    index,
    async (job, signal) => exemptions.apply(await engine.process(job, signal)),
    (job, err) => exemptions.apply(engine.giveUp(job, err)),
    {
      workers: options.workers,
      jobTimeoutMs: options.jobTimeoutMs,
      maxAttempts: options.maxAttempts,
    },
  );
  queue.on('error', (err: unknown) =>
    logger.error({ err: String(err) }, 'verification queue could not store a decision: @{err}'),
  );
  queue.on('settled', (record: VersionRecord) => logVerdict(logger, record));
  const metrics = createMetrics({ index, queue, store });
  queue.on('settled', (record: VersionRecord) => metrics.recordVerdict(record));
  const webhook = options.webhook
    ? await WebhookOutbox.open(subs.db, index, options.webhook, logger)
    : undefined;
  queue.on('settled', () => webhook?.kick());
  queue.start();
  webhook?.start();

  const vetted: Vetted = {
    options,
    index,
    queue,
    store,
    upstream,
    ...(local ? { local } : {}),
    policy,
    versionExists: withLocalVersions(createVersionCheck(upstream), local),
    ...(advisories ? { advisories } : {}),
    startedAt: new Date(),
    exemptions,
    revokedSessions,
    webhook,
    metrics,
    async close() {
      await queue.stop();
      await webhook?.stop();
      await subs.db.close();
    },
  };
  if (advisories) await revokeAdvised(vetted, advisories, logger);
  return vetted;
}

/**
 * Revokes admitted versions that a malicious-package advisory names: an advisory published
 * after the verdict must bite at once. Each revocation is an audit entry by `advisories`. An
 * admin's approval made after every such advisory last changed stands: the admin approved it
 * knowing (a reviewed false positive), and undoing that at each start would lose a decision.
 */
async function revokeAdvised(vetted: Vetted, db: AdvisoryDb, logger: Logger): Promise<void> {
  const names = new Set(db.names());
  if (names.size === 0) return;
  // one pass over the index, not one listing per advised name (the OpenSSF feed has many)
  const admitted = [
    ...(await vetted.index.list({ names, status: 'verified' })),
    ...(await vetted.index.list({ names, status: 'approved' })),
  ];
  for (const record of admitted) {
    const { name } = record;
    const malicious = db.match(name, record.version).filter((m) => m.malicious);
    if (malicious.length === 0) continue;
    if (approvedSince(record, malicious)) {
      logger.warn(
        { pkg: name, version: record.version, by: record.decidedBy.name },
        'advisory not applied: @{pkg}@@{version} was approved by @{by} after its advisories',
      );
      continue;
    }
    const reason = `${malicious.map((m) => m.id).join(', ')}: ${malicious[0]!.summary}`;
    const advisories = { kind: 'policy', name: 'advisories' } as const;
    await applyDecision(vetted, 'revoke', name, record.version, advisories, reason);
    logger.error(
      { pkg: name, version: record.version, reason },
      'ADVISORY ALERT: revoked @{pkg}@@{version}: @{reason}',
    );
  }
}

/** An admin approved the record after each advisory last changed. */
function approvedSince(record: VersionRecord, advisories: AdvisoryMatch[]): boolean {
  if (record.status !== 'approved' || record.decidedBy.kind !== 'admin') return false;
  const decided = Date.parse(record.decidedAt);
  return advisories.every((a) => Date.parse(a.modified) <= decided);
}

/**
 * A version just published to vetted itself exists at once; the upstream's cached listing
 * would only notice it a few seconds later.
 */
function withLocalVersions(check: VersionExistsFn, local?: LocalPackages): VersionExistsFn {
  if (!local) return check;
  return async (name, version) => local.versionsNow(name).has(version) || check(name, version);
}

/** One line per verdict; integrity mismatches are alerts an operator must see. */
function logVerdict(logger: Logger, record: VersionRecord): void {
  const fields = {
    pkg: record.name,
    version: record.version,
    verdict: record.status,
    reason: record.reasons[0] ?? '',
  };
  const mismatch = record.layers.some((l) =>
    l.findings.some((f) => f.code === 'INTEGRITY_MISMATCH'),
  );
  if (mismatch) {
    logger.error(
      { ...fields, code: 'INTEGRITY_MISMATCH' },
      'INTEGRITY ALERT: @{pkg}@@{version} from the upstream does not match its published integrity; rejected',
    );
  } else if (record.status === 'verified') {
    logger.info(fields, 'verified @{pkg}@@{version}');
  } else {
    logger.warn(fields, '@{verdict} @{pkg}@@{version}: @{reason}');
  }
}

/**
 * The newest admitted version of a package below `version`, with its verified bytes, for the
 * layers that report what is new. A store problem only loses the comparison.
 */
function createPreviousLookup(index: VerifiedIndex, store: TarballStore, logger: Logger) {
  return async (name: string, version: string): Promise<PreviousVersion | undefined> => {
    const candidates = (await index.list({ name }))
      .filter((r) => isAdmitted(r.status) && r.storedIntegrity && semver.valid(r.version))
      .filter((r) => semver.valid(version) && semver.lt(r.version, version))
      .sort((a, b) => semver.rcompare(a.version, b.version));
    const best = candidates[0];
    if (!best?.storedIntegrity) return undefined;
    try {
      const opened = await store.open(best.storedIntegrity, versionKey(name, best.version));
      if (!opened) return undefined;
      const tarball = opened.body ?? (await buffer(opened.stream));
      return { version: best.version, tarball };
    } catch (err) {
      logger.warn(
        { pkg: name, version: best.version, err: errorMessage(err) },
        'cannot read @{pkg}@@{version} to compare with: @{err}',
      );
      return undefined;
    }
  };
}

/**
 * Sandbox workspaces left by jobs that died with the process (kill -9) stay in the temp dir;
 * anything older than any live job could be is removed at start.
 */
async function removeStaleWorkspaces(olderThanMs: number, logger: Logger): Promise<void> {
  const root = tmpdir();
  const names = await readdir(root).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names.filter((n) => n.startsWith('vetted-behaviour-'))) {
    const dir = join(root, name);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory() || Date.now() - info.mtimeMs < olderThanMs) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    removed++;
  }
  if (removed > 0) logger.info({ removed }, 'removed @{removed} stale sandbox workspaces');
}
