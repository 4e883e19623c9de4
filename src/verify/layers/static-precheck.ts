/**
 * The static pre-check: what a version would do at install time, read from its tarball without
 * running anything. Lifecycle scripts, `binding.gyp` (npm's implicit `node-gyp rebuild`),
 * bundled native binaries, a package.json that differs from the packument's, and archives that
 * are unsafe to unpack.
 */
import { readTarball, normalise } from '../tarball-contents';
import type { TarEntry } from '../tarball-contents';
import { outcomeOf } from '../layer';
import type { Layer } from '../layer';
import type { Finding } from '../../types';

/** The scripts npm runs when it installs a package from a registry. */
export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

const FAILING = new Set(['TARBALL_UNSAFE', 'TARBALL_UNREADABLE', 'PACKAGE_JSON_INVALID']);

const BINARY_MAGIC: Array<[string, Buffer]> = [
  ['ELF', Buffer.from([0x7f, 0x45, 0x4c, 0x46])],
  ['Mach-O', Buffer.from([0xcf, 0xfa, 0xed, 0xfe])],
  ['Mach-O', Buffer.from([0xce, 0xfa, 0xed, 0xfe])],
  ['Mach-O universal', Buffer.from([0xca, 0xfe, 0xba, 0xbe])],
  ['PE', Buffer.from([0x4d, 0x5a])],
  ['WebAssembly', Buffer.from([0x00, 0x61, 0x73, 0x6d])],
];

export const staticPrecheck: Layer = {
  name: 'static',
  async run({ tarball, manifest }) {
    const findings: Finding[] = [];
    let contents;
    try {
      contents = await readTarball(tarball);
    } catch (err) {
      findings.push({
        code: 'TARBALL_UNREADABLE',
        severity: 'high',
        message: `the tarball is not a readable gzip'd tar archive: ${(err as Error).message}`,
      });
      return { outcome: 'fail', findings };
    }

    for (const { path, problem } of contents.unsafe.slice(0, 20)) {
      findings.push({
        code: 'TARBALL_UNSAFE',
        severity: 'critical',
        message: `unsafe archive entry ${path}: ${problem}`,
        evidence: { path, problem },
      });
    }
    if (contents.truncated) {
      findings.push({
        code: 'TARBALL_UNSAFE',
        severity: 'high',
        message: `the archive exceeds the size or entry limits (${contents.entries.length} entries read)`,
        evidence: { entries: contents.entries.length, unpackedSize: contents.unpackedSize },
      });
    }

    const pkg = parsePackageJson(contents.packageJson, findings);
    const scripts = pkg && isRecord(pkg.scripts) ? pkg.scripts : {};
    const files = new Set(contents.entries.map((e) => normalise(e.path)));

    for (const script of INSTALL_SCRIPTS) {
      const command = scripts[script];
      if (typeof command === 'string' && command.trim() !== '') {
        findings.push({
          code: 'INSTALL_SCRIPT',
          severity: 'high',
          message: `runs ${script === 'install' ? 'an' : 'a'} ${script} script at install time: ${truncate(command, 200)}`,
          evidence: { script, command },
        });
      }
    }
    const hasInstall =
      typeof scripts.install === 'string' || typeof scripts.preinstall === 'string';
    if (files.has('binding.gyp') && !hasInstall) {
      findings.push({
        code: 'NATIVE_BUILD',
        severity: 'high',
        message: 'has binding.gyp, so npm runs node-gyp rebuild at install time',
        evidence: { file: 'binding.gyp', command: 'node-gyp rebuild' },
      });
    }

    const binaries = contents.entries.filter((e) => binaryKind(e)).slice(0, 50);
    if (binaries.length > 0) {
      findings.push({
        code: 'BUNDLED_BINARY',
        severity: 'medium',
        message: `ships ${binaries.length} native binar${binaries.length === 1 ? 'y' : 'ies'}: ${binaries
          .slice(0, 5)
          .map((e) => normalise(e.path))
          .join(', ')}`,
        evidence: {
          files: binaries.map((e) => ({
            path: normalise(e.path),
            kind: binaryKind(e),
            size: e.size,
          })),
        },
      });
    }

    if (pkg) compareWithManifest(pkg, manifest, files.has('binding.gyp'), findings);
    return { outcome: outcomeOf(findings, FAILING), findings };
  },
};

function parsePackageJson(text: string | undefined, findings: Finding[]) {
  if (text === undefined) {
    findings.push({
      code: 'PACKAGE_JSON_INVALID',
      severity: 'high',
      message: 'the tarball has no package/package.json',
    });
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return value;
    throw new Error('not an object');
  } catch (err) {
    findings.push({
      code: 'PACKAGE_JSON_INVALID',
      severity: 'high',
      message: `package.json in the tarball is not valid JSON: ${(err as Error).message}`,
    });
    return undefined;
  }
}

/** The registry's copy of package.json can differ from the tarball's ("manifest confusion"). */
function compareWithManifest(
  pkg: Record<string, unknown>,
  manifest: Record<string, unknown>,
  hasBindingGyp: boolean,
  findings: Finding[],
): void {
  const mismatched: string[] = [];
  if (pkg.name !== manifest.name) mismatched.push('name');
  if (pkg.version !== manifest.version) mismatched.push('version');
  const tarScripts: Record<string, unknown> = { ...(isRecord(pkg.scripts) ? pkg.scripts : {}) };
  const regScripts = isRecord(manifest.scripts) ? manifest.scripts : {};
  // npm publish writes the implicit `node-gyp rebuild` into the registry's copy only
  const implicitGyp =
    hasBindingGyp && pkg.gypfile !== false && !tarScripts.install && !tarScripts.preinstall;
  if (implicitGyp && regScripts.install === 'node-gyp rebuild') {
    tarScripts.install = 'node-gyp rebuild';
  }
  for (const script of INSTALL_SCRIPTS) {
    if ((tarScripts[script] ?? undefined) !== (regScripts[script] ?? undefined)) {
      mismatched.push(`scripts.${script}`);
    }
  }
  if (mismatched.length > 0) {
    findings.push({
      code: 'MANIFEST_MISMATCH',
      severity: 'high',
      message: `the registry's metadata differs from the tarball's package.json in ${mismatched.join(', ')}`,
      evidence: { fields: mismatched },
    });
  }
}

function binaryKind(entry: TarEntry): string | undefined {
  if (entry.type !== 'File') return undefined;
  if (entry.head) {
    for (const [kind, magic] of BINARY_MAGIC) {
      if (entry.head.subarray(0, magic.length).equals(magic)) {
        // "MZ" alone is too weak a signal for tiny text files
        if (kind === 'PE' && entry.size < 64) continue;
        return kind;
      }
    }
  }
  return /\.(node|exe|dll|so|dylib)$/i.test(entry.path) ? 'native module' : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
