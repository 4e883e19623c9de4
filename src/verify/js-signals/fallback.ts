/**
 * Pattern-only reading of a file acorn cannot parse (JSX, Flow, TypeScript renamed `.js`, broken
 * or deliberately malformed code). Coarser than the tree: string literals are found by their
 * quotes, calls by their names, and no call is placed in a function. Emits the same codes as the
 * tree checks, each marked `parsed: false`, so versions stay comparable.
 */
import type { FileState } from './file-state.types';
import { checkPattern, checkString, SECRET_NAME_RE, TOKEN_NAMES } from './strings';
import type { SignalCode } from './signal.types';
import { anyOf, inSequence } from './text';

const STRING_RE = /(['"])((?:\\.|(?!\1)[^\\\n]){4,})\1/g;
const HEX_NAME_RE = /\b_0x[0-9a-f]{3,}\b/gi;
const REQUIRE_RE = anyOf(
  [
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/,
    /\bfrom\s*['"]([^'"]+)['"]/,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/,
  ],
  'g',
);
const ENV_NAME_RE = /\bprocess\.env\.([A-Za-z_][A-Za-z0-9_]*)/g;

const PATTERNS: Array<[SignalCode, RegExp, Record<string, unknown>]> = [
  [
    'JS_DECODED_EXEC',
    inSequence(
      [
        /\b(eval|Function|runInThisContext|runInNewContext|_compile)\s*\(\s*/,
        /(atob|Buffer\.from|unescape|String\.fromCharCode)\b/,
      ],
      'g',
    ),
    {},
  ],
  ['JS_DYNAMIC_CODE', /(?<![\w.$])eval\s*\(\s*(?![\s'"`)])/g, { sink: 'eval' }],
  ['JS_DYNAMIC_CODE', /\bnew\s+Function\s*\(\s*(?![\s'"`)])/g, { sink: 'Function' }],
  [
    'JS_CHILD_PROCESS',
    /\b(require\(\s*|from\s*)['"](node:)?child_process['"]/g,
    { method: 'unknown' },
  ],
  ['JS_ENV_DUMP', /\bJSON\.stringify\(\s*process\.env\s*[,)]/g, {}],
  ['JS_ENV_ENUMERATION', /\bObject\.(keys|entries|values)\(\s*process\.env\s*\)/g, {}],
  ['JS_WALLET_HOOK', /\b(window|globalThis|self)\.(ethereum|solana|phantom|web3)\b/g, {}],
  ['JS_WALLET_HOOK', /\bethereum\.(request|send|sendAsync|enable)\s*\(/g, {}],
  [
    'JS_NETWORK_API',
    anyOf(
      [
        inSequence([
          /\b(https?|http2|net|tls|dns|dgram)\./,
          /(request|get|connect|createConnection|lookup|resolve\w*|createSocket)\s*\(/,
        ]),
        /(?<![\w.$])fetch\s*\(/,
        /\bnew\s+(XMLHttpRequest|WebSocket)\b/,
      ],
      'g',
    ),
    { onLoad: false },
  ],
  [
    'JS_REQUEST_INTERCEPT',
    /\b(window|globalThis|self)\.fetch\s*=(?!=)|XMLHttpRequest\.prototype\.(open|send)\s*=(?!=)/g,
    {},
  ],
];

export function scanWithPatterns(text: string, state: FileState, error: string): void {
  const { collector } = state;
  // decoded or evaluated text that is not JavaScript is still scanned, but not reported as such
  if (collector.depth === 0) {
    collector.add('JS_PARSE_FAILED', 0, { key: 'parse', detail: { error: error.slice(0, 200) } });
  }
  const seenAt = new Set<number>();
  for (const [code, re, detail] of PATTERNS) {
    for (const match of text.matchAll(re)) {
      const at = match.index ?? 0;
      if (code === 'JS_DYNAMIC_CODE' && seenAt.has(at)) continue;
      seenAt.add(at);
      // network calls are keyed by their API, as in parsed files
      const key = code === 'JS_NETWORK_API' ? match[0].replace(/[\s(]+$/, '') : undefined;
      collector.add(code, at, {
        key,
        end: at + match[0].length + 80,
        detail:
          key === undefined ? { ...detail, parsed: false } : { api: key, ...detail, parsed: false },
      });
    }
  }
  for (const match of text.matchAll(REQUIRE_RE)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier) state.requires.add(specifier);
  }
  for (const match of text.matchAll(ENV_NAME_RE)) {
    const name = match[1] ?? '';
    if (TOKEN_NAMES.has(name) || SECRET_NAME_RE.test(name)) {
      collector.add('JS_TOKEN_NAME', match.index ?? 0, { key: name, once: true, detail: { name } });
    }
  }
  for (const match of text.matchAll(HEX_NAME_RE)) {
    const name = match[0].toLowerCase();
    if (!state.hexNames.has(name)) state.hexNames.set(name, match.index ?? 0);
  }
  for (const match of text.matchAll(STRING_RE)) {
    const value = match[2] ?? '';
    const at = match.index ?? 0;
    checkString(value, at, at + match[0].length, state.strings);
  }
  checkPattern(text, 0, state.strings, true);
}
