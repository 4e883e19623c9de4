/**
 * What one string literal (or regular expression) can say about a package: an encoded blob and
 * what it decodes to, a random-looking string, hosts, credential file paths, token names, wallet
 * RPC methods, address patterns and hard-coded wallet addresses. Code is not executed; a blob
 * that decodes to script is handed back to the caller to analyse as code.
 */
import { createHash } from 'node:crypto';
import type { SignalCollector } from './collector';
import { classifyIp, findHosts, isExfilHost, isQuietHost } from './hosts';
import type { HostMention } from './hosts';
import type { ResolvedOptions } from './options';
import type { Severity } from '../../types';
import { anyOf, entropyOf, printableShare, truncate } from './text';

export interface StringContext {
  collector: SignalCollector;
  options: ResolvedOptions;
  ownHosts: ReadonlySet<string>;
  scope?: readonly number[];
  /** Distinct wallet addresses seen in the file, with the offset of the first. */
  addresses: Map<string, number>;
  /** Analyses text found inside the file as code (decoded payloads). */
  analyseNested(collector: SignalCollector, text: string): void;
}

/** Well-known token variables and npm's auth config key. */
export const TOKEN_NAMES = new Set([
  'NPM_TOKEN',
  'NPM_AUTH_TOKEN',
  'NODE_AUTH_TOKEN',
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'GITLAB_TOKEN',
  'CI_JOB_TOKEN',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_CLIENT_SECRET',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'SLACK_TOKEN',
  'SLACK_BOT_TOKEN',
  'DISCORD_TOKEN',
  'TELEGRAM_BOT_TOKEN',
  'CIRCLE_TOKEN',
  'NETLIFY_AUTH_TOKEN',
  'VERCEL_TOKEN',
  'HEROKU_API_KEY',
  'DOCKER_PASSWORD',
  'DOCKERHUB_TOKEN',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'STRIPE_SECRET_KEY',
  'SNYK_TOKEN',
  'CODECOV_TOKEN',
  'SONAR_TOKEN',
  '_authToken',
]);

/** Environment names that look like secrets when read from `process.env`. */
export const SECRET_NAME_RE =
  /(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY)(_|$)/;

const CREDENTIAL_PATHS: Array<[string, RegExp]> = [
  ['.npmrc', /(^|[\\/~])\.npmrc\b/],
  ['.ssh', /(^|[\\/~])\.ssh([\\/]|$)/],
  ['ssh private key', /\bid_(rsa|dsa|ecdsa|ed25519)\b/],
  ['.aws/credentials', /\.aws[\\/]credentials|^\.aws$/],
  ['.docker/config.json', /\.docker[\\/]config\.json/],
  ['.git-credentials', /\.git-credentials\b/],
  ['.netrc', /(^|[\\/~])[._]netrc\b/],
  ['.kube/config', /\.kube[\\/]config\b/],
  ['gcloud credentials', /\.config[\\/]gcloud|application_default_credentials\.json/],
  ['shell history', /\.(bash|zsh)_history\b/],
  ['/etc/shadow', /^\/etc\/shadow\b/],
  ['browser profile', /^(Login Data|Web Data)$|Chrome[\\/]User Data/],
  ['wallet files', /\bwallet\.dat\b|[Ee]thereum[\\/]keystore|\bUTC--\d{4}-|[\\/]Exodus[\\/]/],
  ['wallet extension id', /nkbihfbeogaeaoehlefnkodbefgpgknn|bfnaelmomeimhlpmgjnjophhpkkoljpa/],
];

/** Cheap test before the list: every credential path has one of these. */
const CREDENTIAL_HINT_RE = /[./\\]|id_|Data|UTC--|nkbih|bfnael/;
const WALLET_METHOD_RE = anyOf([
  /^eth_(sendTransaction|requestAccounts|accounts|sign|signTypedData(_v\d)?|sendRawTransaction)$/,
  /^personal_sign$/,
  /^wallet_(switchEthereumChain|addEthereumChain|requestPermissions)$/,
]);
const ADDRESS_PATTERN_RE = anyOf([
  /0x\\?\[[^\]]{3,20}\]\{40\}/, // Ethereum: 0x[a-fA-F0-9]{40}
  /\[(a-km-zA-HJ-NP-Z1-9|1-9A-HJ-NP-Za-km-z)\]/, // base58 (Bitcoin, Solana, Tron)
  /bc1\[/, // Bitcoin bech32
  /\bT\[[^\]]+\]\{33\}/, // Tron
]);
const ADDRESS_RE = anyOf([
  /^0x[0-9a-fA-F]{40}$/,
  /^bc1[02-9ac-hj-np-z]{11,71}$/,
  /^[13][1-9A-HJ-NP-Za-km-z]{25,34}$/,
  /^T[1-9A-HJ-NP-Za-km-z]{33}$/,
]);

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const HEX_RE = /^(?:0x)?[0-9a-fA-F]+$/;
const DATA_URI_RE = /^data:([\w.+/-]*)((?:;[\w=.+-]+)*);base64,/i;

/** Reads one string literal's value; `at`/`end` are its offsets in the file. */
export function checkString(value: string, at: number, end: number, ctx: StringContext): void {
  if (value.length < 4) return;
  const { collector, scope } = ctx;
  if (value.length >= ctx.options.minBlobChars && checkBlob(value, at, ctx)) return;
  if (value.length >= ctx.options.minEntropyChars) checkEntropy(value, at, ctx);

  const mentions = findHosts(value);
  const prose = mentions.length > 0 && isProse(value, mentions);
  for (const mention of mentions) {
    if (prose && mention.kind === 'url' && !isExfilHost(mention.host)) continue;
    checkHost(mention.kind, mention.host, Math.min(at + mention.index, end), ctx);
  }

  for (const [name, re] of CREDENTIAL_HINT_RE.test(value) ? CREDENTIAL_PATHS : []) {
    if (re.test(value)) {
      collector.add('JS_CREDENTIAL_PATH', at, {
        key: name,
        end,
        scope,
        once: true,
        detail: { path: name, literal: truncate(value, 120) },
      });
    }
  }
  if (TOKEN_NAMES.has(value)) {
    collector.add('JS_TOKEN_NAME', at, { key: value, scope, once: true, detail: { name: value } });
  }
  if (value.includes('_') && WALLET_METHOD_RE.test(value)) {
    collector.add('JS_WALLET_HOOK', at, { key: value, once: true, detail: { method: value } });
  }
  checkPattern(value, at, ctx);
  if (value.length >= 26 && value.length <= 74 && ADDRESS_RE.test(value)) {
    if (/^0x(0{40}|f{40})$/i.test(value) || ctx.addresses.has(value)) return;
    ctx.addresses.set(value, at);
  }
}

/**
 * A link inside a sentence is documentation ("see https://… for details"); an endpoint is a
 * string of its own, or part of a command (`curl -s https://… | sh`).
 */
function isProse(value: string, mentions: readonly HostMention[]): boolean {
  // terminal colour codes are not shell syntax
  let rest = value.replace(/\u001b\[[0-9;]*m/g, ' ');
  for (const mention of mentions) rest = rest.replace(mention.text, ' ');
  const words = rest.trim().split(/\s+/);
  if (words.length < 2 || /[|;&`]|\$\(/.test(rest)) return false;
  return !/^(curl|wget|powershell|iwr|bash|sh|node|nc|python3?)$/i.test(words[0] ?? '');
}

/**
 * Regular expressions written to find wallet addresses (to swap them). With `locate`, the
 * signal is placed at the match inside `source` rather than at `at`.
 */
export function checkPattern(source: string, at: number, ctx: StringContext, locate = false): void {
  if (!source.includes('[')) return;
  const match = ADDRESS_PATTERN_RE.exec(source);
  if (match) {
    ctx.collector.add('JS_WALLET_ADDRESS_PATTERN', locate ? at + match.index : at, {
      key: match[0],
      once: true,
      detail: { pattern: truncate(source, 120) },
    });
  }
}

function checkHost(kind: 'url' | 'ip', host: string, at: number, ctx: StringContext): void {
  const { collector, scope } = ctx;
  if (kind === 'ip') {
    const cls = classifyIp(host);
    if (cls === 'ignored') return;
    const severity: Severity = cls === 'private' ? 'low' : 'medium';
    collector.add('JS_HARDCODED_IP', at, {
      key: host,
      severity,
      scope,
      once: true,
      detail: { host, class: cls },
    });
  } else if (isExfilHost(host)) {
    collector.add('JS_EXFIL_HOST', at, { key: host, scope, once: true, detail: { host } });
  } else if (!isQuietHost(host, ctx.ownHosts)) {
    collector.add('JS_HARDCODED_URL', at, { key: host, scope, once: true, detail: { host } });
  }
}

/** A long base64 or hex string, classed by what it decodes to. True when it was one. */
function checkBlob(value: string, at: number, ctx: StringContext): boolean {
  const dataUri = DATA_URI_RE.exec(value);
  const body = dataUri ? value.slice(dataUri[0].length) : value;
  if (body.length < ctx.options.minBlobChars) return false;
  let encoding: 'hex' | 'base64' | 'base64url';
  if (HEX_RE.test(body) && body.length % 2 === 0) encoding = 'hex';
  else if (BASE64_RE.test(body)) encoding = 'base64';
  else if (BASE64URL_RE.test(body) && /[-_]/.test(body)) encoding = 'base64url';
  else return false;
  if (entropyOf(body.slice(0, 4096)) < 3) return false;

  const bytes = Buffer.from(body.replace(/^0x/, ''), encoding);
  const mime = dataUri?.[1]?.toLowerCase() ?? '';
  const kind = /^(image|font|audio|video)\//.test(mime) ? 'media' : blobKind(bytes);
  const severity = BLOB_SEVERITY[kind];
  const decoded = kind === 'script' || kind === 'text' ? bytes.toString('utf8') : undefined;
  const detail: Record<string, unknown> = { encoding, length: value.length, kind };
  if (mime) detail.mime = mime;
  if (decoded !== undefined) detail.decoded = truncate(decoded, 200);
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
  ctx.collector.add('JS_ENCODED_BLOB', at, { key: `${kind}:${digest}`, severity, detail });
  if (kind === 'script' && decoded !== undefined && ctx.collector.depth < 2) {
    ctx.analyseNested(ctx.collector.nested(decoded, at, 'decoded blob'), decoded);
  }
  return true;
}

type BlobKind = 'executable' | 'script' | 'compressed' | 'binary' | 'text' | 'media' | 'wasm';

const BLOB_SEVERITY: Record<BlobKind, Severity> = {
  executable: 'high',
  script: 'medium',
  compressed: 'low',
  binary: 'low',
  text: 'low',
  media: 'info',
  wasm: 'info',
};

const MAGIC: Array<[BlobKind, number[]]> = [
  ['executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['executable', [0xcf, 0xfa, 0xed, 0xfe]],
  ['executable', [0xca, 0xfe, 0xba, 0xbe]],
  ['executable', [0x4d, 0x5a, 0x90, 0x00]],
  ['wasm', [0x00, 0x61, 0x73, 0x6d]],
  ['media', [0x89, 0x50, 0x4e, 0x47]],
  ['media', [0xff, 0xd8, 0xff]],
  ['media', [0x47, 0x49, 0x46, 0x38]],
  ['media', [0x77, 0x4f, 0x46, 0x46]],
  ['media', [0x77, 0x4f, 0x46, 0x32]],
  ['media', [0x00, 0x01, 0x00, 0x00]],
  ['media', [0x4f, 0x54, 0x54, 0x4f]],
  ['media', [0x52, 0x49, 0x46, 0x46]],
  ['compressed', [0x1f, 0x8b]],
  ['compressed', [0x50, 0x4b, 0x03, 0x04]],
  ['compressed', [0x78, 0x9c]],
  ['compressed', [0x78, 0xda]],
];

const SCRIPT_RE = anyOf([
  /\b(require\s*\(|function\b|eval\s*\(|process\.|module\.exports|import\s|child_process)/,
  /=>|^#!/,
  /\b(curl|wget|powershell|chmod)\s/,
]);

export function blobKind(bytes: Buffer): BlobKind {
  for (const [kind, magic] of MAGIC) {
    if (magic.every((b, i) => bytes[i] === b)) return kind;
  }
  const head = bytes.subarray(0, 4096).toString('latin1');
  if (printableShare(head) < 0.95) return 'binary';
  return SCRIPT_RE.test(head) ? 'script' : 'text';
}

function checkEntropy(value: string, at: number, ctx: StringContext): void {
  const { options } = ctx;
  const head = value.length > 4096 ? value.slice(0, 4096) : value;
  if (/\s|:\/\/|^data:|^sha(1|256|384|512)-/.test(head)) return;
  if (looksLikeAlphabet(head) || mostlyNonLatin(head)) return;
  const bits = entropyOf(head);
  if (bits < options.entropyBits) return;
  ctx.collector.add('JS_HIGH_ENTROPY_STRING', at, {
    key: createHash('sha256').update(value).digest('hex').slice(0, 16),
    detail: { length: value.length, entropy: Math.round(bits * 100) / 100 },
  });
}

/** Text in other scripts (CJK, Indic) has many distinct characters; payloads are 8-bit. */
function mostlyNonLatin(value: string): boolean {
  let wide = 0;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) wide += 1;
  return wide > value.length * 0.3;
}

/** Character tables ("ABC…xyz0123…") are high-entropy by construction and harmless. */
function looksLikeAlphabet(value: string): boolean {
  let runs = 0;
  for (let i = 1; i < value.length; i++) {
    if (value.charCodeAt(i) === value.charCodeAt(i - 1) + 1) runs += 1;
  }
  return runs >= value.length * 0.3;
}
