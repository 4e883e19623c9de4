/**
 * The `identity` group of vetted's options (the publisher identity layer), parsed with the rest
 * in `options.ts`. File paths are relative to config.yaml and are read once here, so a missing
 * or broken file stops the start with the option's name rather than failing per version.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { VettedError, errorMessage } from '../errors';
import { loadKeysFile } from '../verify/identity/signatures';
import { createProvenanceVerifier } from '../verify/identity/provenance';

export const identitySchema = z
  .object({
    /**
     * A saved `/-/npm/v1/keys` body: the registry keys used when the upstream serves none
     * (offline, or a registry without the endpoint).
     */
    keys: z.string().min(1).optional(),
    /** A Sigstore `trusted_root.json` replacing the shipped one (key rotation, private Sigstore). */
    trustedRoot: z.string().min(1).optional(),
    typosquat: z
      .object({
        /** Flag names that look like a high-impact package. Default true. */
        enabled: z.boolean().default(true),
        /** Names never flagged (your own packages that resemble popular ones). */
        allow: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ enabled: true, allow: [] }),
  })
  .strict()
  .default({ typosquat: { enabled: true, allow: [] } });

export interface IdentityOptions {
  keys?: string;
  trustedRoot?: string;
  typosquat: { enabled: boolean; allow: readonly string[] };
}

/**
 * Resolves the paths and checks that the files load.
 * @throws VettedError CONFIG_INVALID naming `middlewares.vetted.identity.<option>`.
 */
export function toIdentityOptions(
  raw: z.infer<typeof identitySchema>,
  configDir: string,
): IdentityOptions {
  const path = (p: string | undefined) =>
    p === undefined ? undefined : isAbsolute(p) ? p : resolve(configDir, p);
  const keys = path(raw.keys);
  const trustedRoot = path(raw.trustedRoot);
  try {
    if (keys) loadKeysFile(keys);
  } catch (err) {
    throw new VettedError(
      'CONFIG_INVALID',
      `middlewares.vetted.identity.keys: ${errorMessage(err)}`,
    );
  }
  try {
    if (trustedRoot) createProvenanceVerifier({ trustedRootFile: trustedRoot });
  } catch (err) {
    throw new VettedError(
      'CONFIG_INVALID',
      `middlewares.vetted.identity.trustedRoot: ${errorMessage(err)}`,
    );
  }
  return Object.freeze({
    ...(keys ? { keys } : {}),
    ...(trustedRoot ? { trustedRoot } : {}),
    typosquat: Object.freeze({
      enabled: raw.typosquat.enabled,
      allow: Object.freeze([...raw.typosquat.allow]),
    }),
  });
}
