/**
 * The answer for `/name/version` or `/name/tag` when that version is withheld: 403 with the same
 * `npm-notice` header and JSON body as the tarball gate, so clients that fetch one manifest
 * (corepack, `npm view`) see the reason too.
 */
import type { IncomingMessage } from 'node:http';
import { reportUrl, headerSafe } from '../gate/respond';
import type { Restriction } from './steer';

export function refuseRestricted(
  req: IncomingMessage,
  name: string,
  version: string,
  restriction: Restriction,
) {
  const report = reportUrl(req, name, version);
  const line = `${name}@${version} ${restriction.status}: ${restriction.reason}`;
  return {
    kind: 'error' as const,
    status: 403,
    notice: headerSafe(line),
    reason: headerSafe(line, 200),
    body: {
      error: `${line}. Report: ${report}`,
      name,
      version,
      status: restriction.status,
      reasons: [restriction.reason],
      report,
    },
  };
}
