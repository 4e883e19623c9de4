/**
 * vetted's options (`middlewares.vetted` in Verdaccio's config.yaml), parsed once at start into a
 * frozen object with every default filled in. Errors name the option and what was expected.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { VettedError, errorMessage } from '../errors';
import { loadPolicy } from '../policy/policy';
import { loadAdvisories } from '../advisories/osv';
import { identitySchema, toIdentityOptions } from './identity-options';
import type { IdentityOptions } from './identity-options';
import { sourcesSchema, toSourcesOptions } from './sources';
import type { SourcesOptions } from './sources';
import { webhookSchema } from './webhook-options';
import type { WebhookOptions } from './webhook-options';

export const optionsSchema = z
  .object({
    /** Where vetted keeps the index, the tarball store and its key. */
    home: z.string().min(1).optional(),
    /** The registry versions are fetched from and verified against. */
    upstream: z.string().url().optional(),
    /** `standard`, `strict`, or a path to a policy YAML file (relative to config.yaml). */
    policy: z.string().min(1).default('standard'),
    /** Seconds a tarball request for a pending version waits for its verdict. 0 answers at once. */
    waitForVerdict: z.number().min(0).max(600).default(25),
    /** Verification jobs run at once. */
    workers: z.number().int().min(1).max(64).optional(),
    /** Seconds one verification attempt may take. */
    jobTimeout: z.number().positive().max(3600).default(300),
    /** Attempts before a version whose verification keeps failing is held (upstream outages excepted). */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Verdaccio group (with htpasswd: user name) whose members may decide. */
    adminGroup: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('admin'),
    /** Version records kept in memory. */
    cacheMax: z.number().int().min(1).default(20_000),
    /** An OSV advisory file or directory (relative to config.yaml); malicious ones reject. */
    advisories: z.string().min(1).optional(),
    /** The publisher identity layer: registry keys, Sigstore trusted root, typosquat names. */
    identity: identitySchema,
    /** The source integrity layer: git mirrors, signing keys, time limits (./sources.ts). */
    sources: sourcesSchema,
    /** Notifications of held, rejected and revoked verdicts and integrity alerts (console). */
    webhook: webhookSchema.optional(),
    /** `/-/vetted/metrics`: admins only unless `public: true` (console). */
    metrics: z
      .object({ public: z.boolean().default(false) })
      .strict()
      .optional(),
  })
  .strict();

export interface VettedOptions {
  home: string;
  upstream: string;
  policy: string;
  waitForVerdictMs: number;
  workers: number;
  jobTimeoutMs: number;
  maxAttempts: number;
  adminGroups: readonly string[];
  cacheMax: number;
  /** Absolute path of the OSV advisories, when configured. */
  advisories?: string;
  identity: IdentityOptions;
  /** Verdaccio's storage directory, where packages published to vetted itself are kept. */
  storage?: string;
  sources: SourcesOptions;
  webhook?: WebhookOptions;
  metricsPublic: boolean;
}

export const DEFAULT_UPSTREAM = 'https://registry.npmjs.org/';

/**
 * Validates the plugin section. `context` gives the fallbacks Verdaccio's own config supplies.
 * @throws VettedError CONFIG_INVALID, naming `middlewares.vetted.<option>`.
 */
export function parseOptions(
  raw: unknown,
  context: { configDir: string; storage?: string; uplinkUrl?: string },
): VettedOptions {
  const parsed = optionsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const keys = issue && 'keys' in issue ? (issue.keys as string[]) : [];
    const where = ['middlewares', 'vetted', ...(issue?.path ?? []), ...keys.slice(0, 1)].join('.');
    const message =
      keys.length > 0 && issue?.path.length === 0
        ? `unknown option; valid options are ${Object.keys(optionsSchema.shape).join(', ')}`
        : keys.length > 0
          ? 'unknown option'
          : (issue?.message ?? 'invalid');
    throw new VettedError('CONFIG_INVALID', `${where}: ${message}`);
  }
  const o = parsed.data;
  const storage = context.storage ? resolve(context.configDir, context.storage) : undefined;
  const home =
    o.home ?? process.env.VETTED_HOME ?? (storage ? resolve(storage, '..', 'vetted') : undefined);
  if (!home) {
    throw new VettedError(
      'CONFIG_INVALID',
      'middlewares.vetted.home: required when Verdaccio has no storage',
    );
  }
  // a bare word is a preset name; anything with a slash or a dot is a file
  const isPath = /[\\/.]/.test(o.policy);
  const policy = !isPath || isAbsolute(o.policy) ? o.policy : resolve(context.configDir, o.policy);
  try {
    loadPolicy(policy);
  } catch (err) {
    throw new VettedError(
      'CONFIG_INVALID',
      `middlewares.vetted.policy: ${errorMessage(err)} (use standard, strict or a policy file path)`,
      { cause: err },
    );
  }
  if (o.advisories) {
    try {
      loadAdvisories(resolve(context.configDir, o.advisories));
    } catch (err) {
      throw new VettedError('CONFIG_INVALID', `middlewares.vetted.${errorMessage(err)}`, {
        cause: err,
      });
    }
  }
  return Object.freeze({
    home: resolve(context.configDir, home),
    upstream: withSlash(o.upstream ?? context.uplinkUrl ?? DEFAULT_UPSTREAM),
    policy,
    waitForVerdictMs: Math.round(o.waitForVerdict * 1000),
    workers: o.workers ?? Math.max(2, availableParallelism()),
    jobTimeoutMs: Math.round(o.jobTimeout * 1000),
    maxAttempts: o.maxAttempts,
    adminGroups: Object.freeze(Array.isArray(o.adminGroup) ? o.adminGroup : [o.adminGroup]),
    cacheMax: o.cacheMax,
    ...(o.advisories ? { advisories: resolve(context.configDir, o.advisories) } : {}),
    identity: toIdentityOptions(o.identity, context.configDir),
    ...(storage ? { storage } : {}),
    sources: toSourcesOptions(o.sources, context.configDir),
    webhook: o.webhook && Object.freeze({ ...o.webhook, events: Object.freeze(o.webhook.events) }),
    metricsPublic: o.metrics?.public ?? false,
  });
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
