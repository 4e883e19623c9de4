/**
 * Hosts named in string literals: URLs and IPv4 addresses, which of them are documentation or
 * the package's own sites (not reported), which are typical of exfiltration, and how an IP is
 * classed. Pure functions; the caller decides what a host means for the package.
 */

export interface HostMention {
  kind: 'url' | 'ip';
  host: string;
  /** Where the mention starts inside the string. */
  index: number;
  /** The URL as written (for `url`), cut at 200 characters. */
  text: string;
}

export type IpClass = 'public' | 'private' | 'metadata' | 'ignored';

/** Hosts that only ever appear as links to documentation, specs and namespaces. */
const DOCUMENTATION_HOSTS = [
  'github.com',
  'gist.github.com',
  'github.io',
  'gitlab.com',
  'bitbucket.org',
  'npmjs.com',
  'npmjs.org',
  'nodejs.org',
  'nodejs.dev',
  'v8.dev',
  'mozilla.org',
  'w3.org',
  'whatwg.org',
  'tc39.es',
  'ecma-international.org',
  'ietf.org',
  'rfc-editor.org',
  'iana.org',
  'unicode.org',
  'json-schema.org',
  'schema.org',
  'opensource.org',
  'spdx.org',
  'creativecommons.org',
  'apache.org',
  'wikipedia.org',
  'stackoverflow.com',
  'caniuse.com',
  'chromium.org',
  'reactjs.org',
  'react.dev',
  'fb.me',
  'typescriptlang.org',
  'babeljs.io',
  'webpack.js.org',
  'eslint.org',
  'opencollective.com',
  'tidelift.com',
  'example.com',
  'example.org',
  'example.net',
  'localhost',
];

/** Reserved top-level names that never resolve on the internet (RFC 2606, RFC 6761). */
const RESERVED_TLDS = ['test', 'example', 'invalid', 'localhost', 'local'];

/** Where stolen data is commonly sent or payloads fetched: webhooks, paste sites, tunnels. */
const EXFIL_PATTERNS: RegExp[] = [
  /(^|\.)discord(app)?\.com$/, // webhooks under /api/webhooks
  /(^|\.)pastebin\.com$/,
  /(^|\.)(ngrok\.io|ngrok-free\.app|ngrok\.app)$/,
  /(^|\.)webhook\.site$/,
  /(^|\.)(pipedream\.net|m\.pipedream\.net)$/,
  /(^|\.)requestbin\.(com|net)$/,
  /(^|\.)(interact\.sh|oast\.(fun|live|me|online|pro|site)|burpcollaborator\.net)$/,
  /(^|\.)api\.telegram\.org$/,
  /(^|\.)transfer\.sh$/,
  /(^|\.)(ipinfo\.io|ifconfig\.me|api\.ipify\.org|icanhazip\.com|ipapi\.co)$/,
  /(^|\.)(serveo\.net|localtunnel\.me|loca\.lt|trycloudflare\.com)$/,
];

const URL_RE =
  /\b(?:https?|wss?|ftp):\/\/([a-z0-9._~%-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?[^\s'"`<>]*/gi;
const IPV4_RE = /(?<![\w./:-])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w.-])/g;

/** URLs and bare IPv4 addresses in a string; a URL whose host is an IP is reported as an IP. */
export function findHosts(value: string): HostMention[] {
  const out: HostMention[] = [];
  if (value.includes('://')) {
    for (const match of value.matchAll(URL_RE)) {
      const host = (match[1] ?? '').toLowerCase().replace(/\.$/, '');
      if (host === '') continue;
      const kind = isIpv4(host) ? 'ip' : 'url';
      out.push({ kind, host, index: match.index ?? 0, text: match[0].slice(0, 200) });
    }
  }
  if (/\d\.\d/.test(value)) {
    for (const match of value.matchAll(IPV4_RE)) {
      const index = match.index ?? 0;
      if (out.some((m) => index >= m.index && index < m.index + m.text.length)) continue;
      if (!isIpv4(match[0])) continue;
      // a bare 1.x.x.x or 2.x.x.x is an ASN.1 object identifier (2.5.4.3) far more often
      const port = value.slice(index + match[0].length).startsWith(':');
      if (!port && /^[12]\./.test(match[0])) continue;
      out.push({ kind: 'ip', host: match[0], index, text: match[0] });
    }
  }
  return out;
}

export function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return (
    parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && !/^0\d/.test(p))
  );
}

/**
 * Loopback, unspecified, broadcast, netmasks, multicast and documentation ranges are `ignored`;
 * 169.254.169.254 (cloud instance metadata, where cloud credentials live) is `metadata`.
 */
export function classifyIp(ip: string): IpClass {
  const [a = 0, b = 0, c = 0] = ip.split('.').map(Number);
  if (ip === '169.254.169.254') return 'metadata';
  if (a === 0 || a === 127 || a >= 224 || a === 255) return 'ignored';
  if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100)) return 'ignored';
  if (a === 203 && b === 0 && c === 113) return 'ignored';
  if (a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'private';
  if (a === 100 && b >= 64 && b < 128) return 'private';
  return 'public';
}

export function isExfilHost(host: string): boolean {
  return EXFIL_PATTERNS.some((re) => re.test(host));
}

/** Documentation, reserved names and the package's own sites (`own`, from package.json). */
export function isQuietHost(host: string, own: ReadonlySet<string>): boolean {
  const tld = host.slice(host.lastIndexOf('.') + 1);
  if (RESERVED_TLDS.includes(tld) || !host.includes('.')) return true;
  const matches = (base: string) => host === base || host.endsWith(`.${base}`);
  if (DOCUMENTATION_HOSTS.some(matches)) return true;
  for (const base of own) if (matches(base)) return true;
  return false;
}

/** Hosts of the `homepage`, `repository`, `bugs` and `funding` URLs in package.json. */
export function toOwnHosts(pkg: Record<string, unknown> | undefined): Set<string> {
  const hosts = new Set<string>();
  if (!pkg) return hosts;
  const urls: unknown[] = [pkg.homepage, pkg.repository, pkg.bugs, pkg.funding];
  for (const value of urls.flat()) {
    const url =
      typeof value === 'string'
        ? value
        : typeof value === 'object' && value !== null
          ? (value as { url?: unknown }).url
          : undefined;
    if (typeof url !== 'string') continue;
    const match = /^(?:[a-z+]+:\/\/)?(?:[^@/]+@)?([a-z0-9.-]+)/i.exec(url.replace(/^git\+/, ''));
    if (match?.[1]?.includes('.')) hosts.add(match[1].toLowerCase().replace(/^www\./, ''));
  }
  return hosts;
}
