/**
 * Keeping secrets out of logs and API answers: URLs lose their userinfo, tokens their value.
 */

/** `https://user:pass@host/path` → `https://***@host/path`; other strings unchanged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A webhook URL as logs and pages show it: its origin only. Chat services carry the secret in
 * the path (`/services/T…/B…/<secret>`, `/api/webhooks/<id>/<token>`) or the query.
 */
export function webhookTarget(url: string): string {
  try {
    const parsed = new URL(url);
    const more = parsed.pathname !== '/' || parsed.search !== '' ? '/…' : '/';
    return `${parsed.protocol}//${parsed.host}${more}`;
  } catch {
    return '(not a URL)';
  }
}

/** Removes credentials embedded in URLs anywhere in a message (`//user:pass@host`). */
export function redactText(text: string): string {
  return text.replace(/\/\/[^/@\s:]+:[^/@\s]+@/g, '//***@');
}
