/**
 * The version page's comparison with the last admitted version below it: both tarballs are
 * read from the store (the verified bytes, checked on read), listed with sha256 per file, and
 * diffed. A store problem only loses the comparison, with a note saying why.
 */
import semver from 'semver';
import { buffer } from 'node:stream/consumers';
import { diffFiles, hashTarballFiles } from './file-diff';
import type { Comparison } from './version-page';
import type { Vetted } from '../../vetted';
import { versionKey } from '../../index/database';
import type { VersionRecord } from '../../types';
import { isAdmitted } from '../../types';
import { errorMessage } from '../../errors';

export async function loadComparison(vetted: Vetted, record: VersionRecord): Promise<Comparison> {
  if (!record.storedIntegrity) return { note: 'vetted keeps no bytes of this version to compare.' };
  if (!semver.valid(record.version)) return { note: 'the version is not semver.' };
  const previous = (await vetted.index.list({ name: record.name }))
    .filter((r) => isAdmitted(r.status) && r.storedIntegrity && semver.valid(r.version))
    .filter((r) => semver.lt(r.version, record.version))
    .sort((a, b) => semver.rcompare(a.version, b.version))[0];
  try {
    const files = await hashTarballFiles(await readStored(vetted, record));
    if (!previous) return { files, note: 'No earlier version of this package was admitted.' };
    const before = await hashTarballFiles(await readStored(vetted, previous));
    return { previous: previous.version, files, changes: diffFiles(before, files) };
  } catch (err) {
    return { note: `cannot compare: ${errorMessage(err)}` };
  }
}

async function readStored(vetted: Vetted, record: VersionRecord): Promise<Buffer> {
  const opened = await vetted.store.open(
    record.storedIntegrity ?? '',
    versionKey(record.name, record.version),
  );
  if (!opened) throw new Error(`the stored bytes of ${record.name}@${record.version} are missing`);
  return opened.body ?? (await buffer(opened.stream));
}
