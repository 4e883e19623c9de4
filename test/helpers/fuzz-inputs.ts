/**
 * Generated hostile inputs for the fuzz tests: package names, versions and request paths built
 * from encodings, traversal, very long parts, non-semver versions, unicode look-alikes and
 * prototype-pollution keys. Seeded, so a failing input can be produced again.
 */

import { seededRandom as seeded } from '../../bench/records';

/** A small deterministic generator (mulberry32), shared with the benchmark's record maker. */
export { seeded };

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'toString'];

const NAMES = [
  'vt-clean',
  '@vt/scoped',
  ...PROTO_KEYS,
  '..',
  '.',
  '../../etc/passwd',
  '%2e%2e',
  '%2e%2e%2f%2e%2e',
  '..%2f..%2f',
  '%252e%252e',
  '\u0430pple', // Cyrillic a
  'ехргess', // Cyrillic look-alikes of "express"
  'expr\u0435ss',
  'ｅｘｐｒｅｓｓ', // full width
  'e\u200bxpress', // zero-width space
  'a\u0000b',
  'a%00b',
  'A-Upper',
  ' leading',
  'node_modules',
  'favicon.ico',
  '@',
  '@/',
  '@scope/',
  '@%2f',
  '@@x/y',
  '@x/y/z',
  'x'.repeat(215),
  'y'.repeat(5000),
  '%',
  '%zz',
  '%c0%ae%c0%ae',
  '\\..\\..\\win',
  'a/../b',
  '~user',
  "a'or'1'='1",
  '<script>',
];

const VERSIONS = [
  '1.0.0',
  '01.0.0',
  '1.0',
  '1',
  'v1.0.0',
  '1.0.0+build',
  '1.0.0-beta..1',
  '1.0.0-',
  '99999999999999999999.0.0',
  '1.0.0-' + 'a'.repeat(3000),
  '__proto__',
  'constructor',
  'latest',
  '*',
  '^1.0.0',
  '1.0.0\u0000',
  '１.0.0',
  '../1.0.0',
  '%2e%2e',
  '',
];

const ENCODINGS: Array<(s: string) => string> = [
  (s) => s,
  (s) => encodeURIComponent(s),
  (s) => s.replace('/', '%2f'),
  (s) => s.replace('/', '%2F').replace('@', '%40'),
  (s) => encodeURIComponent(encodeURIComponent(s)),
  (s) => s.replace(/\./g, '%2e'),
  (s) =>
    s
      .split('')
      .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
      .join(''),
];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)] as T;
}

/** `count` request paths mixing tarball, packument and API shapes. */
export function fuzzPaths(count: number, seed = 9): string[] {
  const rnd = seeded(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = pick(rnd, NAMES);
    const version = pick(rnd, VERSIONS);
    const enc = pick(rnd, ENCODINGS);
    const base = name.includes('/') ? name.slice(name.indexOf('/') + 1) : name;
    const shapes = [
      () => `/${enc(name)}/-/${enc(base)}-${enc(version)}.tgz`,
      () => `/${enc(name)}/-/${enc(name)}-${version}.tgz`,
      () => `/${enc(name)}`,
      () => `/${enc(name)}/${enc(version)}`,
      () => `/${enc(name)}/%2D/${base}-${version}.tgz`,
      () => `/${enc(name)}/-/${base}-${version}.tgz?${enc(pick(rnd, PROTO_KEYS))}=1`,
      () => `/-/vetted/api/versions/${enc(name)}/${enc(version)}`,
      () => `/-/vetted/api/${enc(name)}`,
      () => `/-/vetted/api/audit?from=${enc(version)}&limit=${enc(name)}`,
      () => `/-/vetted/api/versions?status=${enc(name)}&limit=${enc(version)}`,
    ];
    out.push(pick(rnd, shapes)());
  }
  return out;
}

/** Spec strings for `POST status`, including prototype keys and nonsense. */
export function fuzzSpecs(count: number, seed = 11): string[] {
  const rnd = seeded(seed);
  return Array.from({ length: count }, () => {
    const name = pick(rnd, NAMES);
    const version = pick(rnd, VERSIONS);
    return rnd() < 0.2 ? name : `${name}@${version}`;
  });
}
