import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createProvenanceVerifier } from '../../src/verify/identity/provenance';
import { loadKeysFile } from '../../src/verify/identity/signatures';
import { repositoryUrl } from '../../src/verify/identity/repository';
import { readTarball } from '../../src/verify/tarball-contents';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'identity');
const keys = loadKeysFile(path.join(FIXTURES, 'npm-keys', 'keys.json'));
const verifier = createProvenanceVerifier();

/** Each attestation file with its tarball. */
const CASES = [
  { file: 'sigstore@0.4.0.json', tarball: 'sigstore-0.4.0.tgz' },
  { file: 'sigstore@1.0.0.json', tarball: 'sigstore-1.0.0.tgz' },
  { file: 'sigstore@2.3.1.json', tarball: 'sigstore-2.3.1.tgz' },
  { file: 'tuf-js@1.0.0.json', tarball: 'tuf-js-1.0.0.tgz' },
  { file: '@octokit__rest@22.0.1.json', tarball: 'octokit-rest-22.0.1.tgz' },
];

async function load(c: (typeof CASES)[number]) {
  const tarball = readFileSync(path.join(FIXTURES, 'tarballs', c.tarball));
  const pkg = JSON.parse((await readTarball(tarball)).packageJson ?? '{}');
  const attestations = JSON.parse(
    readFileSync(path.join(FIXTURES, 'attestations', c.file), 'utf8'),
  );
  return {
    name: pkg.name as string,
    version: pkg.version as string,
    tarball,
    repository: repositoryUrl(pkg),
    attestations,
    keys,
  };
}

const codes = (r: { findings: { code: string }[] }) => r.findings.map((f) => f.code);

describe('provenance', () => {
  describe('when each real bundle is checked offline against its own tarball', () => {
    for (const c of CASES) {
      it(`verifies ${c.file} and records commit and workflow`, async () => {
        const input = await load(c);
        const r = verifier.check(input);
        assert.ok(!codes(r).includes('PROVENANCE_INVALID'), JSON.stringify(r.findings));
        assert.equal(r.publishAttested, true);
        assert.match(r.provenance?.commit ?? '', /^[0-9a-f]{40}$/);
        assert.match(r.provenance?.workflow ?? '', /\.github\/workflows\/.+\.yml@refs\//);
        assert.match(r.provenance?.signer ?? '', /^https:\/\/github\.com\//);
        if (input.name === 'tuf-js') {
          // tuf-js 1.0.0 names github/tuf-js; it was built in theupdateframework/tuf-js (the
          // repository moved), so the provenance does not name the package's repository
          assert.deepEqual(codes(r), ['PROVENANCE_REPOSITORY_MISMATCH']);
          assert.match(r.findings[0]!.message, /theupdateframework\/tuf-js/);
        } else {
          assert.deepEqual(codes(r), []);
        }
      });
    }
  });

  it('fails a bundle whose subject is another tarball', async () => {
    const input = await load(CASES[1]!);
    const other = readFileSync(path.join(FIXTURES, 'tarballs', 'sigstore-0.4.0.tgz'));
    const r = verifier.check({ ...input, tarball: other });
    assert.deepEqual(codes(r), ['PROVENANCE_INVALID', 'PROVENANCE_INVALID']);
    assert.match(r.findings[0]!.message, /not about this tarball \(pkg:npm\/sigstore@1\.0\.0\)/);
  });

  it('fails provenance that names another repository than the package', async () => {
    const input = await load(CASES[2]!);
    const r = verifier.check({
      ...input,
      repository: 'git+https://github.com/someone/sigstore-js.git',
    });
    assert.deepEqual(codes(r), ['PROVENANCE_REPOSITORY_MISMATCH']);
  });

  it('fails a package that names no repository', async () => {
    const input = await load(CASES[0]!);
    assert.deepEqual(codes(verifier.check({ ...input, repository: undefined })), [
      'PROVENANCE_REPOSITORY_MISMATCH',
    ]);
  });

  it('fails a statement edited after signing', async () => {
    const input = await load(CASES[4]!);
    const copy = structuredClone(input.attestations);
    const bundle = copy.attestations.find((a: { predicateType: string }) =>
      a.predicateType.includes('slsa'),
    ).bundle;
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
    statement.predicate.buildDefinition.externalParameters.workflow.repository =
      'https://github.com/evil/rest.js';
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const r = verifier.check({ ...input, attestations: copy });
    assert.deepEqual(codes(r), ['PROVENANCE_INVALID']);
    assert.match(r.findings[0]!.message, /does not verify/);
  });

  it('fails the publish attestation when the registry key is unknown', async () => {
    const input = await load(CASES[3]!);
    const r = verifier.check({ ...input, keys: [] });
    assert.ok(codes(r).includes('PROVENANCE_INVALID'));
    assert.equal(r.publishAttested, false);
  });

  it('refuses a trusted root that cannot be read', () => {
    assert.throws(
      () => createProvenanceVerifier({ trustedRootFile: '/nonexistent/trusted_root.json' }),
      /trusted root \/nonexistent/,
    );
  });
});
