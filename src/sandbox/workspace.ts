/**
 * The host directories behind one behaviour run and where they appear in the sandbox:
 *
 *   <dir>/home     -> /home/dev           writable, decoy secrets planted
 *   <dir>/project  -> /home/dev/project   writable; the package is node_modules/<name>
 *   <dir>/tmp      -> /tmp                writable
 *   <dir>/etc/*    -> /etc/*              read-only: passwd, group, hosts, resolv.conf, ...
 *   <dir>/runner   -> /opt/vetted         read-only: the load harness
 *   <dir>/traces, <dir>/npm               never mounted: traces, npm's config and cache
 *
 * resolv.conf names 127.0.0.1, where nothing listens, so a lookup fails at once but still
 * sends its query, which the trace shows with the name asked for. When the sandbox runs as
 * another host user, the writable directories are handed to it. Depends on ./decoys.
 */
import { chmod, lchown, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Mount } from './command';
import { plantDecoys } from './decoys';
import type { Decoys } from './decoys';

export interface WorkspaceOptions {
  /** Parent of the workspace directory. Default: the OS temp dir. */
  root?: string;
  /** Host owner of the writable directories, when the sandbox runs as another user. */
  hostUser?: { uid: number; gid: number };
  /** User name inside the sandbox. Default `dev`. */
  user?: string;
  /** Host name inside the sandbox. Default `devbox`. */
  hostname?: string;
}

export interface Workspace {
  dir: string;
  user: string;
  hostname: string;
  host: { home: string; project: string; tmp: string; runner: string; npm: string };
  sandbox: { home: string; project: string; tmp: string; runner: string };
  decoys: Decoys;
  mounts: Mount[];
  /** A fresh trace file path for the next run (never mounted). */
  tracePath(label: string): string;
  /** Hands the writable directories to the sandbox's host user (after npm wrote into them). */
  handOver(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * Creates the directories, the /etc files and the decoys.
 * @example const ws = await createWorkspace({ hostUser: runner.hostUser });
 */
export async function createWorkspace(options: WorkspaceOptions = {}): Promise<Workspace> {
  const user = options.user ?? 'dev';
  const hostname = options.hostname ?? 'devbox';
  const dir = await mkdtemp(path.join(options.root ?? tmpdir(), 'vetted-behaviour-'));
  const host = {
    home: path.join(dir, 'home'),
    project: path.join(dir, 'project'),
    tmp: path.join(dir, 'tmp'),
    runner: path.join(dir, 'runner'),
    npm: path.join(dir, 'npm'),
  };
  const etc = path.join(dir, 'etc');
  const traces = path.join(dir, 'traces');
  const home = `/home/${user}`;
  const sandbox = { home, project: `${home}/project`, tmp: '/tmp', runner: '/opt/vetted' };
  for (const d of [...Object.values(host), etc, traces]) await mkdir(d, { recursive: true });
  // bwrap needs the mount point of the project inside the HOME bind
  await mkdir(path.join(host.home, 'project'));
  await mkdir(path.join(host.project, 'node_modules'));
  await chmod(host.tmp, 0o1777);

  const files: Record<string, string> = {
    passwd: `root:x:0:0:root:/root:/bin/bash\n${user}:x:1000:1000:${user}:${home}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `root:x:0:\n${user}:x:1000:\nnogroup:x:65534:\n`,
    hosts: `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    hostname: `${hostname}\n`,
    'resolv.conf': 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n',
    'nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
  };
  const mounts: Mount[] = [
    { host: host.home, sandbox: home, writable: true },
    { host: host.project, sandbox: sandbox.project, writable: true },
    { host: host.tmp, sandbox: '/tmp', writable: true },
    { host: host.runner, sandbox: sandbox.runner },
  ];
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(etc, name), text, { mode: 0o644 });
    mounts.push({ host: path.join(etc, name), sandbox: `/etc/${name}` });
  }
  const decoys = await plantDecoys({ hostHome: host.home, sandboxHome: home, user, hostname });

  let traceCount = 0;
  const ws: Workspace = {
    dir,
    user,
    hostname,
    host,
    sandbox,
    decoys,
    mounts,
    tracePath: (label) =>
      path.join(traces, `${String(++traceCount).padStart(2, '0')}-${label.replace(/\W+/g, '_')}`),
    handOver: async () => {
      const owner = options.hostUser;
      if (!owner) return;
      // the sandbox user must be able to reach the mounts through the workspace directory
      await chmod(dir, 0o711);
      for (const d of [host.home, host.project, host.tmp]) await chownTree(d, owner);
    },
    dispose: () => removeTree(dir),
  };
  await ws.handOver();
  return ws;
}

/** lchown over a tree, never following links. */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, owner);
    else await lchown(p, owner.uid, owner.gid);
  }
}

/**
 * Removes what the sandbox left, however it set modes: directories it made unreadable are
 * opened up first (only directories, never through links).
 */
async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch {
    // fall through: open up directories, then try again
  }
  const openUp = async (d: string): Promise<void> => {
    const info = await lstat(d).catch(() => undefined);
    if (!info?.isDirectory()) return;
    await chmod(d, 0o700).catch(() => undefined);
    for (const name of await readdir(d).catch(() => [] as string[])) {
      await openUp(path.join(d, name));
    }
  };
  await openUp(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
}
