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
} as const;

export const PRESETS: Record<'standard' | 'strict', PresetBody> = {
  standard: {
    preset: 'standard',
    requiredLayers: ['integrity', 'static'],
    unavailable: 'warn',
    error: 'hold',
    fail: 'hold',
    findings: { ...COMMON_FINDINGS, BUNDLED_BINARY: 'warn' },
  },
  strict: {
    preset: 'strict',
    requiredLayers: ['integrity', 'static'],
    unavailable: 'hold',
    error: 'hold',
    fail: 'hold',
    findings: { ...COMMON_FINDINGS, BUNDLED_BINARY: 'hold' },
  },
};
