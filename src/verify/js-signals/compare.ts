/**
 * New since the previous version: each signal is matched against the previous version's by code,
 * file and comparison key (never by line, so code that moved down a file still matches). Keys
 * made from source text are counted, so a second copy of the same call is new; keys that are
 * names (a host, a token variable, an API) match as a set. A signal in a file the previous version
 * did not have also matches the same code and key in any file, so renamed files and rebuilt
 * bundle chunks do not read as new code.
 */
import type { JsSignal, MarkedSignal, SignalCode } from './signal.types';

export interface Baseline {
  signals: readonly JsSignal[];
  /** Files the previous version's analysis read. */
  files: readonly string[];
}

const NAME_KEYED = new Set<SignalCode>([
  'JS_HARDCODED_IP',
  'JS_HARDCODED_URL',
  'JS_EXFIL_HOST',
  'JS_TOKEN_NAME',
  'JS_CREDENTIAL_PATH',
  'JS_WALLET_HOOK',
  'JS_WALLET_ADDRESSES',
  'JS_WALLET_ADDRESS_PATTERN',
  'JS_REQUEST_INTERCEPT',
  'JS_HEX_IDENTIFIERS',
  'JS_NETWORK_API',
  'JS_LOAD_NETWORK',
  'JS_INSTALL_NETWORK',
  'JS_FILE_SKIPPED',
  'JS_PARSE_FAILED',
]);

/** Marks each signal `new` or `old` against the baseline; `unknown` for all when there is none. */
export function markNovelty(current: readonly JsSignal[], baseline?: Baseline): MarkedSignal[] {
  if (!baseline) return current.map((s) => ({ ...s, novelty: 'unknown' }));
  const inFile = new Map<string, number>();
  const anywhere = new Map<string, number>();
  for (const s of baseline.signals) {
    bump(inFile, `${s.code}\0${s.file}\0${s.key}`);
    bump(anywhere, `${s.code}\0${s.key}`);
  }
  const knownFiles = new Set(baseline.files);
  return current.map((s) => {
    const counted = !NAME_KEYED.has(s.code);
    const here = `${s.code}\0${s.file}\0${s.key}`;
    if (take(inFile, here, counted)) return { ...s, novelty: 'old' };
    if (!knownFiles.has(s.file) && take(anywhere, `${s.code}\0${s.key}`, counted)) {
      return { ...s, novelty: 'old' };
    }
    return { ...s, novelty: 'new' };
  });
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** True when the key is (still) available; counted keys are used up one match at a time. */
function take(map: Map<string, number>, key: string, counted: boolean): boolean {
  const left = map.get(key) ?? 0;
  if (left <= 0) return false;
  if (counted) map.set(key, left - 1);
  return true;
}
