/**
 * Git side of the source-layer tests: tags (plain, SSH-signed, GPG-signed), bare copies under
 * a directory laid out like a git host (`<root>/acme/<repo>.git`), a `git daemon` serving that
 * directory on loopback, publishing with extra npm flags or from a copy without `.git` (so the
 * version has no gitHead), and the LayerInput of a published version read back from a
 * registry. Git runs without the machine's config. Depends on git, ssh-keygen, gpg, ./npm.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess, ExecFileOptions } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { npmEnv, runNpm } from './npm';
import { freePort } from './ports';
import type { LayerInput } from '../../src/verify/layer';
import type { Packument } from '../../src/registry/packument';

const execFileAsync = promisify(execFile);
/** Every helper command is bounded, so a stuck git, gpg or ssh-keygen fails the test by name. */
const run = (cmd: string, args: string[], options: ExecFileOptions = {}) =>
  execFileAsync(cmd, args, {
    timeout: 120_000,
    killSignal: 'SIGKILL',
    ...options,
    encoding: 'utf8',
  }) as Promise<{ stdout: string; stderr: string }>;

const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: devNull,
  GIT_TERMINAL_PROMPT: '0',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', args, { cwd, env: GIT_ENV });
    return stdout.trim();
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`git ${args.join(' ')} in ${cwd}: ${stderr}`, { cause: err });
  }
}

/** An annotated tag; `sign` makes it an SSH- or GPG-signed one. */
export async function tag(
  dir: string,
  name: string,
  sign?: { ssh: string } | { gpg: string; gnupgHome: string },
): Promise<void> {
  if (!sign) {
    await git(dir, 'tag', '-a', name, '-m', name);
    return;
  }
  if ('ssh' in sign) {
    await git(
      dir,
      '-c',
      'gpg.format=ssh',
      '-c',
      `user.signingkey=${sign.ssh}`,
      'tag',
      '-s',
      name,
      '-m',
      name,
    );
    return;
  }
  await run('git', ['-c', `user.signingkey=${sign.gpg}`, 'tag', '-s', name, '-m', name], {
    cwd: dir,
    env: { ...GIT_ENV, GNUPGHOME: sign.gnupgHome },
  });
}

/** An ed25519 key and an allowed-signers file naming it for `email`. */
export async function makeSshKey(
  dir: string,
  email: string,
): Promise<{ key: string; allowedSigners: string }> {
  await mkdir(dir, { recursive: true });
  const key = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', email, '-f', key]);
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const allowedSigners = path.join(dir, 'allowed_signers');
  await writeFile(allowedSigners, `${email} namespaces="git" ${pub}\n`);
  return { key, allowedSigners };
}

/** A GPG key without passphrase in its own GNUPGHOME, and its armored public key file. */
export async function makeGpgKey(
  dir: string,
  email: string,
): Promise<{ gnupgHome: string; fingerprint: string; publicKey: string }> {
  const gnupgHome = path.join(dir, 'gnupg');
  await mkdir(gnupgHome, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  const gpg = (...args: string[]) =>
    run('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', ...args], { env });
  await gpg(
    '--passphrase',
    '',
    '--quick-gen-key',
    `Vetted Test <${email}>`,
    'ed25519',
    'sign',
    '1d',
  );
  const { stdout } = await gpg('--with-colons', '--list-keys', email);
  const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(stdout)?.[1] ?? '';
  const publicKey = path.join(dir, 'signer.asc');
  await writeFile(publicKey, (await gpg('--armor', '--export', fingerprint)).stdout);
  return { gnupgHome, fingerprint, publicKey };
}

/** Pushes every branch and tag of `dir` to `<hostRoot>/acme/<repo>.git` (created bare). */
export async function pushToHost(dir: string, hostRoot: string, repo: string): Promise<string> {
  const bare = path.join(hostRoot, 'acme', `${repo}.git`);
  await mkdir(path.dirname(bare), { recursive: true });
  await git(hostRoot, 'init', '--quiet', '--bare', bare).catch(() => '');
  await git(dir, 'push', '--quiet', '--force', bare, '--all');
  await git(dir, 'push', '--quiet', '--force', bare, '--tags');
  return bare;
}

/** `npm publish` in `dir` with extra flags (`--ignore-scripts`, ...). */
export async function publishWith(
  dir: string,
  registry: string,
  token: string,
  extra: string[] = [],
) {
  const npmDir = await mkdtemp(path.join(tmpdir(), 'vetted-publish-'));
  try {
    const { env } = npmEnv(registry, { token, dir: npmDir });
    const res = await runNpm(['publish', ...extra], { cwd: dir, env, timeoutMs: 180_000 });
    if (res.code !== 0) throw new Error(`npm publish in ${dir}: ${res.stderr.slice(-2000)}`);
  } finally {
    await rm(npmDir, { recursive: true, force: true });
  }
}

/** Publishes a copy of `dir` without `.git`, so the version records no gitHead. */
export async function publishWithoutGit(
  dir: string,
  registry: string,
  token: string,
  extra: string[] = [],
) {
  const copy = await mkdtemp(path.join(tmpdir(), 'vetted-nogit-'));
  try {
    await cp(dir, copy, { recursive: true, filter: (src) => path.basename(src) !== '.git' });
    await publishWith(copy, registry, token, extra);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

/** The layer input of `name@version` as the engine would build it, read from `registry`. */
export async function inputFrom(
  registry: string,
  name: string,
  version: string,
): Promise<LayerInput> {
  const res = await fetch(new URL(name.replace('/', '%2f'), registry));
  if (!res.ok) throw new Error(`GET ${name}: ${res.status}`);
  const packument = (await res.json()) as Packument;
  const manifest = packument.versions?.[version];
  if (!manifest) throw new Error(`${name}@${version} is not published`);
  const dist = manifest.dist as { tarball: string };
  const tarball = Buffer.from(await (await fetch(dist.tarball)).arrayBuffer());
  return { name, version, packument, manifest, tarball, signal: new AbortController().signal };
}

/** `git daemon` exporting `base` on a loopback port; resolves once it accepts connections. */
export async function startGitDaemon(
  base: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'git',
    [
      'daemon',
      '--export-all',
      '--reuseaddr',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    { env: GIT_ENV, stdio: 'ignore' },
  );
  const url = `git://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      await execFileAsync('git', ['ls-remote', `${url}acme/none.git`], {
        env: GIT_ENV,
        timeout: 2000,
      });
      break;
    } catch (err) {
      // "not exported" / "repository not found" means the daemon answers
      if (
        /not (found|exported)|does not appear|remote end hung up/i.test(
          String((err as { stderr?: string }).stderr),
        )
      )
        break;
      await delay(100);
    }
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}
