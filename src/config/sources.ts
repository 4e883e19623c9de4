/**
 * The `sources` option group (`middlewares.vetted.sources`): how the source integrity layer
 * reaches repositories and what it trusts. Key file paths are resolved against the config
 * file's folder and must be readable at start.
 *
 *   sources:
 *     mirrors:
 *       - { from: 'https://github.com/', to: 'https://git.corp.example/mirror/github/' }
 *     trustedKeys:
 *       '@acme/*': [keys/acme-allowed-signers]
 *       left-pad: [keys/left-pad.asc]
 *     cloneTimeout: 60        # seconds
 *     rebuildTimeout: 180     # seconds, install and build each
 *     hostCooldown: 300       # seconds an unreachable host is skipped
 */
import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { VettedError } from '../errors';

const PREFIX = /^(https?|git|ssh|file):\/\//;

export const sourcesSchema = z
  .object({
    /** Repository URL prefixes replaced by a mirror's; the longest `from` that matches wins. */
    mirrors: z
      .array(
        z
          .object({
            from: z
              .string()
              .regex(PREFIX, 'must be an http(s)://, git://, ssh:// or file:// URL prefix'),
            to: z
              .string()
              .regex(PREFIX, 'must be an http(s)://, git://, ssh:// or file:// URL prefix'),
          })
          .strict(),
      )
      .default([]),
    /** Key files by package name or `@scope/*`: allowed-signers files or armored GPG keys. */
    trustedKeys: z
      .record(
        z
          .string()
          .regex(/^(@[\w.-]+\/(\*|[\w.-]+)|[\w.-]+)$/, 'must be a package name or @scope/*'),
        z.array(z.string().min(1)).min(1),
      )
      .default({}),
    cloneTimeout: z.number().positive().max(3600).default(60),
    rebuildTimeout: z.number().positive().max(3600).default(150),
    hostCooldown: z.number().min(0).max(86_400).default(300),
  })
  .strict()
  .prefault({});

export interface SourcesOptions {
  mirrors: ReadonlyArray<{ from: string; to: string }>;
  trustedKeys: Readonly<Record<string, readonly string[]>>;
  cloneTimeoutMs: number;
  rebuildTimeoutMs: number;
  hostCooldownMs: number;
}

/**
 * @throws VettedError CONFIG_INVALID naming `middlewares.vetted.sources.trustedKeys.<name>`
 *   when a key file cannot be read.
 */
export function toSourcesOptions(
  raw: z.infer<typeof sourcesSchema>,
  configDir: string,
): SourcesOptions {
  const trustedKeys: Record<string, string[]> = {};
  for (const [name, files] of Object.entries(raw.trustedKeys)) {
    trustedKeys[name] = files.map((file) => {
      const full = isAbsolute(file) ? file : resolve(configDir, file);
      try {
        accessSync(full, constants.R_OK);
      } catch {
        throw new VettedError(
          'CONFIG_INVALID',
          `middlewares.vetted.sources.trustedKeys.${name}: cannot read the key file ${full}`,
        );
      }
      return full;
    });
  }
  return Object.freeze({
    mirrors: Object.freeze(raw.mirrors.map((m) => Object.freeze({ ...m }))),
    trustedKeys: Object.freeze(trustedKeys),
    cloneTimeoutMs: Math.round(raw.cloneTimeout * 1000),
    rebuildTimeoutMs: Math.round(raw.rebuildTimeout * 1000),
    hostCooldownMs: Math.round(raw.hostCooldown * 1000),
  });
}
