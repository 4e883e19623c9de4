/**
 * Steering against the verified index: looks up the verdict of every version in a packument,
 * applies `steerPackument`, and queues (background priority) the undecided version `latest`
 * points at, so the version clients ask for by default is verified before they ask.
 * Runs inside Verdaccio's `filter_metadata` and shares the engine through src/vetted.ts.
 */
import type { Vetted } from '../vetted';
import type { Logger } from '../log/logger';
import { reasonsOf } from '../gate/respond';
import { errorMessage } from '../errors';
import { steerPackument } from './steer';
import type { Packument, SteerResult, VersionVerdict } from './steer';

const TAMPERED_REASON = 'its index record failed its signature check; an admin must re-verify it';

/**
 * Steers `doc` in place from the index's verdicts.
 *
 * @throws when the index cannot be read (the caller must then fail closed).
 */
export async function steerFromIndex(
  vetted: Vetted,
  doc: Packument,
  logger: Logger,
): Promise<SteerResult> {
  const name = doc.name;
  if (typeof name !== 'string') throw new Error('the packument has no name');
  const versions = Object.keys(doc.versions ?? {});
  const verdicts = new Map<string, VersionVerdict>();
  await Promise.all(
    versions.map(async (version) => {
      const record = await vetted.index.get(name, version);
      if (record) {
        verdicts.set(version, { status: record.status, reason: reasonsOf(record)[0] });
      } else if (vetted.index.isTampered(name, version)) {
        verdicts.set(version, { status: 'held', reason: TAMPERED_REASON });
      }
    }),
  );
  const result = steerPackument(doc, (version) => verdicts.get(version));
  for (const version of result.unknownTargets) {
    if (vetted.queue.has(name, version)) continue;
    vetted.queue
      .enqueue(name, version, 'background')
      .catch((err: unknown) =>
        logger.warn(
          { pkg: name, version, err: errorMessage(err) },
          'cannot queue @{pkg}@@{version}: @{err}',
        ),
      );
  }
  return result;
}
