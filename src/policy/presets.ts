/**
 * The two shipped policies. `standard` (the default) admits with a recorded warning when a layer
 * could not run for a reason outside the package; `strict` holds then. Both hold install-time
 * code until the behaviour layer can watch it run, and reject tampered or unsafe tarballs.
 */
import type { Policy } from './schema';

type PresetBody = Omit<Policy, 'digest' | 'source'>;

const COMMON_FINDINGS = {
  INTEGRITY_MISMATCH: 'reject',
  TARBALL_UNSAFE: 'reject',
  TARBALL_UNREADABLE: 'reject',
  PACKAGE_JSON_INVALID: 'hold',
  MANIFEST_MISMATCH: 'hold',
  INSTALL_SCRIPT: 'hold',
  NATIVE_BUILD: 'hold',
  // strong combined evidence from the JavaScript itself
  JS_DECODED_EXEC: 'hold',
  JS_CREDENTIAL_EXFIL: 'hold',
  JS_WALLET_DRAINER: 'hold',
  JS_OBFUSCATED_INSTALL: 'hold',
} as const;

export const PRESETS: Record<'standard' | 'strict', PresetBody> = {
  standard: {
    preset: 'standard',
    requiredLayers: ['integrity', 'static', 'js-signals'],
    unavailable: 'warn',
    error: 'hold',
    fail: 'hold',
    findings: { ...COMMON_FINDINGS, BUNDLED_BINARY: 'warn' },
  },
  strict: {
    preset: 'strict',
    requiredLayers: ['integrity', 'static', 'js-signals'],
    unavailable: 'hold',
    error: 'hold',
    fail: 'hold',
    findings: {
      ...COMMON_FINDINGS,
      BUNDLED_BINARY: 'hold',
      JS_INSTALL_NETWORK: 'hold',
      JS_EXFIL_HOST: 'hold',
    },
  },
};
