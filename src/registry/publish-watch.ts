/**
 * Notices `npm publish` to vetted itself (`PUT /<name>`, `PUT /@scope%2fname`) and, once
 * Verdaccio has stored it, records the Verdaccio user as the publisher of each new version.
 * Verdaccio keeps no `_npmUser`, and without it the publisher comparison has nothing to compare
 * for private packages. Reads no request body: the versions are read from storage before and
 * after, so what Verdaccio refused is never recorded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import validateName from 'validate-npm-package-name';
import type { Logger } from '../log/logger';
import { errorMessage } from '../errors';
import type { LocalPackages } from './local-packages';

/** The package a publish request is for, or undefined when it is not a publish. */
export function publishTarget(req: IncomingMessage): string | undefined {
  if (req.method !== 'PUT' || !req.url) return undefined;
  const pathname = req.url.split('?')[0]!;
  const m = /^\/((?:@[^/]+(?:%2f|\/))?[^/@][^/]*)$/i.exec(pathname);
  if (!m) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return validateName(name).validForNewPackages || validateName(name).validForOldPackages
    ? name
    : undefined;
}

/**
 * Snapshots the stored versions and lets the request through at once; on a 2xx answer records
 * the new versions' publisher.
 */
export function watchPublish(
  req: IncomingMessage & { remote_user?: { name?: string | null } },
  res: ServerResponse,
  next: () => void,
  local: LocalPackages,
  logger: Logger,
): void {
  const name = publishTarget(req);
  const user = req.remote_user?.name;
  if (!name || !user) return next();
  const before = local.versionsNow(name);
  res.once('finish', () => {
    if (res.statusCode < 200 || res.statusCode >= 300) return;
    local.recordPublish(name, user, before).then(
      (versions) => {
        if (versions.length === 0) return;
        logger.info(
          { pkg: name, user, versions: versions.join(', ') },
          '@{user} published @{pkg}@@{versions} to vetted',
        );
      },
      (err: unknown) =>
        logger.error(
          { pkg: name, user, err: errorMessage(err) },
          'cannot record that @{user} published @{pkg}: @{err}',
        ),
    );
  });
  next();
}
