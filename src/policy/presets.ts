/**
 * The two shipped policies. `standard` (the default) admits with a recorded warning when a layer
 * could not run for a reason outside the package; `strict` holds then. Install-time code is
 * admitted with a warning once the behaviour layer has watched it run (see `decide`), and held
 * when it could not; tampered or unsafe tarballs and decoy reads are rejected.
 */
import type { Policy } from './schema';

type PresetBody = Omit<Policy, 'digest' | 'source'>;

const COMMON_FINDINGS = {
  INTEGRITY_MISMATCH: 'reject',
  TARBALL_UNSAFE: 'reject',
  TARBALL_UNREADABLE: 'reject',
  PACKAGE_JSON_INVALID: 'hold',
  MANIFEST_MISMATCH: 'hold',
  INSTALL_SCRIPT: 'warn',
  NATIVE_BUILD: 'warn',
  // strong combined evidence from the JavaScript itself
  JS_DECODED_EXEC: 'hold',
  JS_CREDENTIAL_EXFIL: 'hold',
  JS_WALLET_DRAINER: 'hold',
  JS_OBFUSCATED_INSTALL: 'hold',
  // what the behaviour layer saw install scripts and module loading do
  // a read alone can be a tool reading its own config (npm, pnpm); a leak is not
  DECOY_READ: 'hold',
  DECOY_LEAK: 'reject',
  INSTALL_SCRIPT_NETWORK: 'hold',
  LOAD_NETWORK: 'hold',
  WRITE_OUTSIDE_PACKAGE: 'hold',
  SHELL_SPAWN: 'hold',
  INSTALL_TIMEOUT: 'hold',
  LOAD_TIMEOUT: 'hold',
  RUNAWAY_CPU: 'hold',
  // a published advisory says the version is malicious; other advisories are recorded
  KNOWN_MALICIOUS: 'reject',
  KNOWN_VULNERABILITY: 'warn',
  // the publisher identity layer (README, "Publisher identity")
  SIGNATURE_INVALID: 'reject',
  SIGNATURE_KEY_UNKNOWN: 'hold',
  SIGNATURE_KEY_EXPIRED: 'hold',
  SIGNATURE_MISSING: 'hold',
  PROVENANCE_INVALID: 'hold',
  PROVENANCE_UNREADABLE: 'hold',
  PROVENANCE_REPOSITORY_MISMATCH: 'hold',
  PROVENANCE_DOWNGRADE: 'hold',
  TRUSTED_PUBLISHER_DROPPED: 'hold',
  PUBLISHER_NEW_ACCOUNT: 'hold',
  TYPOSQUAT: 'hold',
  MAINTAINERS_CHANGED: 'warn',
  NEW_DEPENDENCY: 'warn',
  VERSION_OUT_OF_ORDER: 'warn',
  // the source layer: what runs must be what the repository builds
  REBUILD_FILE_DIFFERS: 'hold',
  REBUILD_FILE_EXTRA: 'hold',
  REBUILD_FILE_MISSING: 'warn',
  REBUILD_NONCODE_DIFFERS: 'warn',
  REPRODUCIBILITY_REGRESSION: 'hold',
  SOURCE_NOT_FOUND: 'hold',
  SOURCE_COMMIT_UNREACHABLE: 'hold',
  SOURCE_TAG_MISMATCH: 'hold',
  SOURCE_GITHEAD_MISSING: 'warn',
  SOURCE_TAG_MISSING: 'warn',
  SOURCE_SIGNATURE_BAD: 'hold',
  SOURCE_UNSIGNED: 'warn',
} as const;

/** Softer identity changes: recorded under `standard`, held under `strict`. */
const IDENTITY_CHANGES = [
  'PUBLISHER_CHANGED',
  'REPOSITORY_CHANGED',
  'RELEASE_BURST',
  'DORMANT_PACKAGE',
  'IDENTITY_UNAVAILABLE',
] as const;
const each = (action: 'warn' | 'hold') =>
  Object.fromEntries(IDENTITY_CHANGES.map((code) => [code, action]));

export const PRESETS: Record<'standard' | 'strict', PresetBody> = {
  standard: {
    preset: 'standard',
    requiredLayers: ['integrity', 'publisher', 'static', 'js-signals', 'source', 'behaviour'],
    unavailable: 'warn',
    error: 'hold',
    fail: 'hold',
    findings: { ...COMMON_FINDINGS, ...each('warn'), BUNDLED_BINARY: 'warn' },
    behaviour: {},
  },
  strict: {
    preset: 'strict',
    requiredLayers: ['integrity', 'publisher', 'static', 'js-signals', 'source', 'behaviour'],
    unavailable: 'hold',
    error: 'hold',
    fail: 'hold',
    findings: {
      ...COMMON_FINDINGS,
      ...each('hold'),
      BUNDLED_BINARY: 'hold',
      JS_INSTALL_NETWORK: 'hold',
      JS_EXFIL_HOST: 'hold',
      SOURCE_UNSIGNED: 'hold',
      SOURCE_TAG_MISSING: 'hold',
      SOURCE_GITHEAD_MISSING: 'hold',
    },
    behaviour: {},
  },
};
