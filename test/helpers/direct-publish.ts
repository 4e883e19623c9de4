/**
 * Publishes a tarball built in memory to a real Verdaccio with the registry's publish request
 * (the `PUT /<name>` document with the tarball attached, as npm sends it). Much faster than
 * `npm publish` for fixture trees of a hundred packages.
 */
import { createHash } from 'node:crypto';

/**
 * @throws when the registry does not answer 2xx; the message carries its answer.
 * @example
 *   await publishTarball(upstream.url, token, 'vt-a', '1.0.0', cleanPackage('vt-a', '1.0.0'));
 */
export async function publishTarball(
  registry: string,
  token: string,
  name: string,
  version: string,
  tarball: Buffer,
  manifest: Record<string, unknown> = {},
): Promise<void> {
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  const file = `${base}-${version}.tgz`;
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const doc = {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        _id: `${name}@${version}`,
        main: 'index.js',
        ...manifest,
        dist: { tarball: `${registry}${name}/-/${file}`, shasum, integrity },
      },
    },
    _attachments: {
      [file]: {
        content_type: 'application/octet-stream',
        data: tarball.toString('base64'),
        length: tarball.length,
      },
    },
  };
  const res = await fetch(`${registry}${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(doc),
  });
  if (!res.ok)
    throw new Error(`publishing ${name}@${version}: HTTP ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}
