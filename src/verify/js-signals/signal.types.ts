/**
 * The vocabulary of the JavaScript signals: every code with the severity it has on its own and
 * the words a report uses for it, plus the records the analysis passes between its steps.
 * Depends only on the shared `Severity` type.
 */
import type { Severity } from '../../types';

interface SignalSpec {
  /** Severity of one occurrence seen without a baseline, before roles and novelty adjust it. */
  severity: Severity;
  /** Plural noun phrase for messages: "3 <title> in 2 files". */
  title: string;
}

/** Every code the analysis emits. Combined codes (last group) are the only ones that fail. */
export const SIGNALS = {
  // obfuscation
  JS_HEX_IDENTIFIERS: { severity: 'medium', title: 'files with hex-mangled identifiers (_0x…)' },
  JS_STRING_ARRAY_ROTATION: { severity: 'high', title: 'obfuscator string-array rotations' },
  JS_LONG_LINE: { severity: 'low', title: 'very long code lines in hand-written files' },
  JS_PADDED_CODE: { severity: 'medium', title: 'code pushed off-screen by whitespace' },
  JS_HIGH_ENTROPY_STRING: { severity: 'low', title: 'high-entropy string literals' },
  // dynamic code
  JS_DYNAMIC_CODE: { severity: 'low', title: 'evaluations of built strings' },
  JS_DECODED_EXEC: { severity: 'critical', title: 'decoded data executed or required' },
  JS_CHILD_PROCESS: { severity: 'low', title: 'child_process uses' },
  JS_ENCODED_BLOB: { severity: 'low', title: 'long base64 or hex blobs' },
  // hosts
  JS_HARDCODED_IP: { severity: 'medium', title: 'hard-coded IP addresses' },
  JS_HARDCODED_URL: { severity: 'low', title: 'hard-coded hosts' },
  JS_EXFIL_HOST: { severity: 'high', title: 'hosts typical of data exfiltration' },
  // credentials
  JS_TOKEN_NAME: { severity: 'low', title: 'token variable names' },
  JS_CREDENTIAL_PATH: { severity: 'medium', title: 'credential file paths' },
  JS_ENV_DUMP: { severity: 'medium', title: 'serialisations of the whole environment' },
  JS_ENV_ENUMERATION: { severity: 'info', title: 'enumerations of the environment' },
  // browser wallets
  JS_WALLET_HOOK: { severity: 'medium', title: 'browser wallet hooks' },
  JS_WALLET_ADDRESS_PATTERN: { severity: 'low', title: 'wallet address patterns' },
  JS_WALLET_ADDRESSES: { severity: 'medium', title: 'files with lists of wallet addresses' },
  JS_REQUEST_INTERCEPT: { severity: 'low', title: 'overrides of fetch or XMLHttpRequest' },
  // network, by when the code runs
  JS_INSTALL_NETWORK: { severity: 'high', title: 'network calls in install-time code' },
  JS_LOAD_NETWORK: { severity: 'medium', title: 'network calls run when a module loads' },
  JS_NETWORK_API: { severity: 'info', title: 'network calls inside functions' },
  // coverage of the analysis itself
  JS_FILE_SKIPPED: { severity: 'info', title: 'files not analysed (limits)' },
  JS_PARSE_FAILED: { severity: 'info', title: 'files read with patterns only (no parse)' },
  JS_BASELINE_UNREADABLE: { severity: 'info', title: 'unreadable previous versions' },
  JS_COVERAGE: { severity: 'info', title: 'what the analysis read' },
  // combined evidence
  JS_CREDENTIAL_EXFIL: { severity: 'critical', title: 'credential reads next to network use' },
  JS_WALLET_DRAINER: { severity: 'critical', title: 'wallet hooks with address swapping' },
  JS_OBFUSCATED_INSTALL: { severity: 'critical', title: 'obfuscated install-time files' },
} as const satisfies Record<string, SignalSpec>;

export type SignalCode = keyof typeof SIGNALS;

/** Codes that make the layer fail when they are not carried over from the previous version. */
export const FAILING_CODES: ReadonlySet<SignalCode> = new Set<SignalCode>([
  'JS_DECODED_EXEC',
  'JS_CREDENTIAL_EXFIL',
  'JS_WALLET_DRAINER',
  'JS_OBFUSCATED_INSTALL',
]);

/**
 * When a file's code runs: `install` (reached from an install script), `load` (reached from
 * `main`, `exports`, `module` or `bin`), `test` (tests, docs, examples not otherwise reached),
 * `other`.
 */
export type FileRole = 'install' | 'load' | 'test' | 'other';

/** Whether a signal was in the previous version; `unknown` when there is no previous version. */
export type Novelty = 'new' | 'old' | 'unknown';

/** One occurrence of a signal in one file. */
export interface JsSignal {
  code: SignalCode;
  /** Severity of this occurrence on its own (some codes vary by what was seen). */
  severity: Severity;
  /** Path inside the package, without the `package/` folder. */
  file: string;
  /** 1-based line of the occurrence; 0 for whole-file signals with no position. */
  line: number;
  /** The source around the occurrence, at most 200 characters. */
  excerpt: string;
  /** Comparison key across versions: stable under line shifts and minifier renames. */
  key: string;
  /** Code-specific facts (host, method, count, decoded preview), plain JSON. */
  detail?: Record<string, unknown>;
  /** Role of the file, set once the package's entry points are known. */
  role?: FileRole;
  /** Ids of the enclosing functions, outermost first; relates signals within one file. */
  scope?: readonly number[];
}

/** A signal once compared with the previous version. */
export interface MarkedSignal extends JsSignal {
  novelty: Novelty;
}
