/**
 * The body of vetted's `filter_metadata`: steers the packument from the verified index and
 * reports to the request's metadata context. Never throws: Verdaccio would skip a throwing
 * filter and serve the unfiltered document. On failure it returns a document with no versions
 * and no tags (clients find nothing to install) and marks the request so the middleware
 * answers 503.
 */
import type { Vetted } from '../vetted';
import type { Logger } from '../log/logger';
import { errorMessage } from '../errors';
import { metadataContext } from './context';
import { steerFromIndex } from './steering';
import type { Packument } from './steer';

export async function filterMetadata(
  doc: Packument,
  vetted: Vetted | undefined,
  notReady: string,
  logger: Logger,
): Promise<Packument> {
  const context = metadataContext.getStore();
  try {
    if (!vetted) throw new Error(`vetted is not ready: ${notReady}`);
    const steered = await steerFromIndex(vetted, doc, logger);
    if (context) context.steered = steered;
    return doc;
  } catch (err) {
    const message = errorMessage(err);
    logger.error(
      { pkg: String(doc?.name), err: message },
      'metadata filter failed for @{pkg}; answering 503: @{err}',
    );
    if (context) context.failed = message;
    return { name: doc?.name, versions: {}, 'dist-tags': {}, time: {} };
  }
}
