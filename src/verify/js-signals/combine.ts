/**
 * Strong evidence from signals that mean little alone but much together, in one file and not all
 * carried over from the previous version. Only these codes (and `JS_DECODED_EXEC`) make the layer
 * fail, so each rule is narrow:
 * - `JS_CREDENTIAL_EXFIL`: the environment serialised, or a credential file named, in the same
 *   function as a network call (or the function directly around it), when either part is new;
 *   with no previous version, only for a serialised environment or in install-time code, since
 *   npm clients legitimately name `.npmrc` near their requests.
 * - `JS_WALLET_DRAINER`: a wallet hook, plus address patterns or a list of addresses, plus either
 *   `fetch`/`XMLHttpRequest` replaced or both patterns and a list (what the 2025 `chalk`/`debug`
 *   compromise shipped).
 * - `JS_OBFUSCATED_INSTALL`: javascript-obfuscator output in a file an install script runs.
 * Tests and docs never take part.
 */
import type { MarkedSignal, Novelty, SignalCode } from './signal.types';

const CREDENTIAL = new Set<SignalCode>(['JS_ENV_DUMP', 'JS_CREDENTIAL_PATH']);
const NETWORK = new Set<SignalCode>([
  'JS_INSTALL_NETWORK',
  'JS_LOAD_NETWORK',
  'JS_NETWORK_API',
  'JS_EXFIL_HOST',
]);
/** Lines apart within which signals of a pattern-read file (no functions known) are related. */
const NEAR_LINES = 50;

/** The combined signals a package's marked signals add up to (none, usually). */
export function combineSignals(signals: readonly MarkedSignal[]): MarkedSignal[] {
  const byFile = new Map<string, MarkedSignal[]>();
  for (const s of signals) {
    if (s.role === 'test') continue;
    const list = byFile.get(s.file);
    if (list) list.push(s);
    else byFile.set(s.file, [s]);
  }
  const out: MarkedSignal[] = [];
  for (const list of byFile.values()) {
    const exfil = findExfil(list);
    if (exfil) out.push(exfil);
    const drainer = findDrainer(list);
    if (drainer) out.push(drainer);
    const obfuscated = list.find(
      (s) =>
        s.role === 'install' &&
        s.novelty !== 'old' &&
        (s.code === 'JS_HEX_IDENTIFIERS' || s.code === 'JS_STRING_ARRAY_ROTATION'),
    );
    if (obfuscated) out.push(combined('JS_OBFUSCATED_INSTALL', obfuscated, [obfuscated]));
  }
  return out;
}

function findExfil(list: readonly MarkedSignal[]): MarkedSignal | undefined {
  for (const credential of list.filter((s) => CREDENTIAL.has(s.code))) {
    for (const network of list.filter((s) => NETWORK.has(s.code))) {
      if (!related(credential, network)) continue;
      const parts = [credential, network];
      const fresh = parts.some((p) => p.novelty === 'new');
      const firstSight =
        parts.every((p) => p.novelty === 'unknown') &&
        (credential.code === 'JS_ENV_DUMP' || credential.role === 'install');
      if (fresh || firstSight) return combined('JS_CREDENTIAL_EXFIL', credential, parts);
    }
  }
  return undefined;
}

function findDrainer(list: readonly MarkedSignal[]): MarkedSignal | undefined {
  const hook = list.find((s) => s.code === 'JS_WALLET_HOOK');
  const pattern = list.find((s) => s.code === 'JS_WALLET_ADDRESS_PATTERN');
  const addresses = list.find((s) => s.code === 'JS_WALLET_ADDRESSES');
  const intercept = list.find((s) => s.code === 'JS_REQUEST_INTERCEPT');
  if (!hook || !(pattern || addresses) || !(intercept || (pattern && addresses))) return undefined;
  const parts = [hook, pattern, addresses, intercept].filter((p): p is MarkedSignal => !!p);
  if (parts.every((p) => p.novelty === 'old')) return undefined;
  return combined('JS_WALLET_DRAINER', hook, parts);
}

/** Same function, or one directly inside the other; by distance in lines when not parsed. */
function related(a: MarkedSignal, b: MarkedSignal): boolean {
  if (!a.scope || !b.scope) return Math.abs(a.line - b.line) <= NEAR_LINES;
  const [outer, inner] = a.scope.length <= b.scope.length ? [a.scope, b.scope] : [b.scope, a.scope];
  if (inner.length - outer.length > 1) return false;
  return outer.every((id, i) => inner[i] === id);
}

function combined(
  code: SignalCode,
  at: MarkedSignal,
  parts: readonly MarkedSignal[],
): MarkedSignal {
  const novelty: Novelty = parts.some((p) => p.novelty === 'new') ? 'new' : 'unknown';
  return {
    code,
    severity: 'critical',
    file: at.file,
    line: at.line,
    excerpt: at.excerpt,
    key: parts.map((p) => `${p.code}:${p.key}`).join('+'),
    role: at.role,
    novelty,
    detail: {
      parts: parts.map((p) => ({
        code: p.code,
        line: p.line,
        excerpt: p.excerpt,
        novelty: p.novelty,
      })),
    },
  };
}
