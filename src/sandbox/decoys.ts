/**
 * Decoy secrets for the sandbox HOME and environment: the files and variables install-time
 * malware looks for, with fresh random values on every call (malware skips well-known
 * canaries). Records which sandbox path and which variable holds which decoy, so the trace can
 * name what was read and a value seen leaving can be named too. Depends on node:crypto and fs.
 */
import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type DecoyKind =
  | 'npm-token'
  | 'ssh-key'
  | 'aws-credentials'
  | 'gcloud-credentials'
  | 'git-credentials'
  | 'docker-credentials'
  | 'github-token';

export interface DecoyFile {
  kind: DecoyKind;
  /** Absolute path inside the sandbox. */
  path: string;
}

export interface DecoySecret {
  kind: DecoyKind;
  /** The file path or the variable name that holds it. */
  where: string;
  value: string;
}

export interface Decoys {
  files: DecoyFile[];
  /** Directories whose listing is itself a sign of looking (`~/.ssh`, `~/.aws`, ...). */
  dirs: DecoyFile[];
  /** Variables to put in the sandbox environment. */
  env: Record<string, string>;
  /** Every planted value, for spotting it in argv, paths or data sent. */
  secrets: DecoySecret[];
}

export interface PlantDecoysOptions {
  /** The HOME directory on the host, bound into the sandbox at `sandboxHome`. */
  hostHome: string;
  sandboxHome: string;
  user: string;
  hostname: string;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * Writes the decoy files into `hostHome` (plus a plausible `.gitconfig`, `.bashrc` and
 * `.profile`) and returns where each decoy is.
 * @example const decoys = await plantDecoys({ hostHome, sandboxHome: '/home/dev', ... });
 */
export async function plantDecoys(options: PlantDecoysOptions): Promise<Decoys> {
  const { hostHome, sandboxHome, user, hostname } = options;
  const files: DecoyFile[] = [];
  const dirs: DecoyFile[] = [];
  const secrets: DecoySecret[] = [];

  const plant = async (
    rel: string,
    text: string,
    decoy?: { kind: DecoyKind; values: string[] },
  ): Promise<void> => {
    const target = path.join(hostHome, rel);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await writeFile(target, text, { mode: decoy ? 0o600 : 0o644 });
    if (!decoy) return;
    const where = path.posix.join(sandboxHome, rel);
    files.push({ kind: decoy.kind, path: where });
    for (const value of decoy.values) secrets.push({ kind: decoy.kind, where, value });
  };

  const npmToken = `npm_${random(BASE62, 36)}`;
  await plant('.npmrc', `//registry.npmjs.org/:_authToken=${npmToken}\n`, {
    kind: 'npm-token',
    values: [npmToken],
  });

  const ssh = sshKeyPair(`${user}@${hostname}`);
  await plant('.ssh/id_ed25519', ssh.privateKey, { kind: 'ssh-key', values: ssh.secretLines });
  await plant('.ssh/id_ed25519.pub', ssh.publicKey);

  const awsId = `AKIA${random(BASE32, 16)}`;
  const awsSecret = random(`${BASE62}/+`, 40);
  await plant(
    '.aws/credentials',
    `[default]\naws_access_key_id = ${awsId}\naws_secret_access_key = ${awsSecret}\n`,
    { kind: 'aws-credentials', values: [awsId, awsSecret] },
  );
  await plant('.aws/config', '[default]\nregion = us-east-1\noutput = json\n');

  const gcloudSecret = `GOCSPX-${random(BASE62, 28)}`;
  const gcloudRefresh = `1//0${random(BASE62, 20)}-${random(BASE62, 60)}`;
  await plant(
    '.config/gcloud/application_default_credentials.json',
    JSON.stringify(
      {
        client_id: `${randomInt(100_000_000_000, 999_999_999_999)}-${random(BASE62, 32).toLowerCase()}.apps.googleusercontent.com`,
        client_secret: gcloudSecret,
        refresh_token: gcloudRefresh,
        type: 'authorized_user',
      },
      null,
      2,
    ) + '\n',
    { kind: 'gcloud-credentials', values: [gcloudSecret, gcloudRefresh] },
  );

  const gitToken = `ghp_${random(BASE62, 36)}`;
  await plant('.git-credentials', `https://${user}:${gitToken}@github.com\n`, {
    kind: 'git-credentials',
    values: [gitToken],
  });

  const dockerPat = `dckr_pat_${random(BASE62, 27)}`;
  const dockerAuth = Buffer.from(`${user}:${dockerPat}`).toString('base64');
  await plant(
    '.docker/config.json',
    JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: dockerAuth } } }, null, 2),
    { kind: 'docker-credentials', values: [dockerPat, dockerAuth] },
  );

  await plant(
    '.gitconfig',
    `[user]\n\tname = ${user}\n\temail = ${user}@${hostname}.local\n[credential]\n\thelper = store\n`,
  );
  await plant('.bashrc', 'export PATH="$HOME/.local/bin:$PATH"\nalias ll="ls -l"\n');
  await plant('.profile', 'if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n');

  for (const [rel, kind] of [
    ['.ssh', 'ssh-key'],
    ['.aws', 'aws-credentials'],
    ['.config/gcloud', 'gcloud-credentials'],
    ['.docker', 'docker-credentials'],
  ] as const) {
    dirs.push({ kind, path: path.posix.join(sandboxHome, rel) });
  }

  const env: Record<string, string> = {
    NPM_TOKEN: `npm_${random(BASE62, 36)}`,
    GITHUB_TOKEN: `ghp_${random(BASE62, 36)}`,
    AWS_ACCESS_KEY_ID: `AKIA${random(BASE32, 16)}`,
    AWS_SECRET_ACCESS_KEY: random(`${BASE62}/+`, 40),
  };
  const envKinds: Record<string, DecoyKind> = {
    NPM_TOKEN: 'npm-token',
    GITHUB_TOKEN: 'github-token',
    AWS_ACCESS_KEY_ID: 'aws-credentials',
    AWS_SECRET_ACCESS_KEY: 'aws-credentials',
  };
  for (const [name, value] of Object.entries(env)) {
    secrets.push({ kind: envKinds[name] ?? 'npm-token', where: `$${name}`, value });
  }
  return { files, dirs, env, secrets };
}

/** `length` characters drawn uniformly from `alphabet`. */
function random(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * A real (random, never used) Ed25519 key in OpenSSH's private key format, so a payload that
 * parses the key before sending it finds a well-formed one. `body` is the base64 inside the
 * armour; `secretLines` are its armoured lines that hold only random key bytes (the first lines
 * start with the fixed format header), so a copy of the file is recognised wherever it goes.
 */
function sshKeyPair(comment: string): {
  privateKey: string;
  publicKey: string;
  secretLines: string[];
} {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const pub = Buffer.from(jwk.x ?? '', 'base64url');
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const str = (b: Buffer | string): Buffer => {
    const data = typeof b === 'string' ? Buffer.from(b) : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, data]);
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const pubBlob = Buffer.concat([str('ssh-ed25519'), str(pub)]);
  const check = randomBytes(4).readUInt32BE();
  let priv = Buffer.concat([
    u32(check),
    u32(check),
    str('ssh-ed25519'),
    str(pub),
    str(Buffer.concat([seed, pub])),
    str(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    str('none'),
    str('none'),
    str(''),
    u32(1),
    str(pubBlob),
    str(priv),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}\n`,
    secretLines: lines.slice(2, 4),
  };
}
