/**
 * Checks the signature of a release tag (or, without a tag, of the commit) with git against
 * the keys configured for the package: SSH keys through an allowed-signers file
 * (`gpg.ssh.allowedSignersFile`, verified by ssh-keygen), GPG keys imported into a throwaway
 * GNUPGHOME. A key file is GPG when it holds an armored public key block, else an allowed
 * signers file. Depends on ./git and ./run-bounded.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runGit } from './git';
import type { GitOptions } from './git';
import { runBounded, tailOf } from '../../run-bounded';

export type SignatureStatus = 'signed' | 'unsigned' | 'bad';

export interface SignatureCheck {
  status: SignatureStatus;
  /** `tag <name>` or `commit <sha>`: what was checked. */
  object: string;
  /** What git said (the signer, or why the signature failed). */
  detail: string;
}

/**
 * Verifies `tag` when given, else `commit`.
 * @throws when a key file cannot be read (a configuration problem, not the package's).
 */
export async function checkSignature(
  gitDir: string,
  target: { tag?: string; commit: string },
  keyFiles: readonly string[],
  options: GitOptions,
): Promise<SignatureCheck> {
  const object = target.tag ? `tag ${target.tag}` : `commit ${target.commit}`;
  const ref = target.tag ? `refs/tags/${target.tag}` : target.commit;
  const raw = await runGit(
    ['--git-dir', gitDir, 'cat-file', target.tag ? 'tag' : 'commit', ref],
    options,
  );
  if (raw.code !== 0) {
    // a lightweight tag is no tag object: the commit is what can carry a signature
    if (target.tag) return checkSignature(gitDir, { commit: target.commit }, keyFiles, options);
    return { status: 'unsigned', object, detail: tailOf(raw.stderr, 1) };
  }
  const signed = target.tag
    ? /-----BEGIN (PGP|SSH) SIGNATURE-----/.test(raw.stdout)
    : /^gpgsig /m.test(raw.stdout);
  if (!signed) return { status: 'unsigned', object, detail: `${object} carries no signature` };

  const home = await mkdtemp(path.join(tmpdir(), 'vetted-keys-'));
  try {
    const gnupg = path.join(home, 'gnupg');
    const signers = path.join(home, 'allowed_signers');
    await prepareKeys(keyFiles, gnupg, signers, options);
    const res = await runGit(
      [
        '-c',
        `gpg.ssh.allowedSignersFile=${signers}`,
        '--git-dir',
        gitDir,
        target.tag ? 'verify-tag' : 'verify-commit',
        '--raw',
        target.tag ? target.tag : target.commit,
      ],
      { ...options, env: { ...options.env, GNUPGHOME: gnupg } },
    );
    const said = tailOf(res.stderr, 3);
    if (res.code === 0) {
      const who =
        /GOODSIG \S+ (.*)/.exec(res.stderr)?.[1] ??
        /Good "git" signature for (.*)/.exec(res.stderr)?.[1];
      return { status: 'signed', object, detail: who ? `good signature by ${who}` : said };
    }
    return { status: 'bad', object, detail: said || `git exited ${res.code ?? 'on a timeout'}` };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function prepareKeys(
  keyFiles: readonly string[],
  gnupg: string,
  signers: string,
  options: GitOptions,
): Promise<void> {
  await mkdir(gnupg, { mode: 0o700 });
  const lines: string[] = [];
  for (const file of keyFiles) {
    const text = await readFile(file, 'utf8');
    if (text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
      const res = await runBounded('gpg', ['--batch', '--quiet', '--import'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GNUPGHOME: gnupg },
        timeoutMs: options.timeoutMs,
        input: text,
      });
      if (res.code !== 0)
        throw new Error(`importing the GPG key ${file}: ${tailOf(res.stderr, 2)}`);
    } else {
      lines.push(text.trim());
    }
  }
  await writeFile(signers, lines.filter(Boolean).join('\n') + '\n');
}
