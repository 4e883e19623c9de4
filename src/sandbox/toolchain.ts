/**
 * Where node, npm and npm's bundled node-gyp live, so the sandbox can run lifecycle scripts
 * the way npm does (its `node-gyp` shim on PATH, `npm_config_node_gyp`, the node headers for
 * native builds) and bind them read-only when they are outside /usr. Depends on fs only.
 */
import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';

export interface NodeToolchain {
  /** The node binary running vetted; the same path inside the sandbox. */
  node: string;
  nodeVersion: string;
  /** npm's `bin/npm-cli.js`. */
  npmCli: string;
  npmVersion: string;
  /** npm's bundled `node-gyp/bin/node-gyp.js`, as npm passes it in `npm_config_node_gyp`. */
  nodeGyp: string;
  /** The directory of run-script's `node-gyp` shim, which npm puts on PATH. */
  nodeGypBin?: string;
  /** Root with `include/node/node.h`, for node-gyp (`npm_config_nodedir`); absent: none. */
  nodedir?: string;
  /** Host paths outside /usr to bind read-only so the above exist inside the sandbox. */
  systemPaths: string[];
}

export interface LocateToolchainOptions {
  /** npm's `bin/npm-cli.js`. Default: found next to this process's node, else on PATH. */
  npmCli?: string;
  /** Default: node's prefix when it holds `include/node/node.h`. */
  nodedir?: string;
}

/**
 * Finds npm next to node (`<prefix>/lib/node_modules/npm`), else through `npm` on PATH.
 * @throws Error naming what is missing.
 * @example const toolchain = await locateToolchain();
 */
export async function locateToolchain(
  options: LocateToolchainOptions = {},
): Promise<NodeToolchain> {
  const node = await realpath(process.execPath);
  const prefix = path.resolve(path.dirname(node), '..');
  const npmCli = options.npmCli ?? (await findNpmCli(prefix));
  if (!npmCli) throw new Error(`npm was not found next to ${node} nor on PATH`);
  const npmRoot = path.resolve(path.dirname(npmCli), '..');
  const nodeGyp = path.join(npmRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(nodeGyp)) throw new Error(`npm at ${npmRoot} has no bundled node-gyp`);
  const shim = path.join(npmRoot, 'node_modules', '@npmcli', 'run-script', 'lib', 'node-gyp-bin');
  const npmPkg = JSON.parse(await readFile(path.join(npmRoot, 'package.json'), 'utf8')) as {
    version?: string;
  };
  const nodedir =
    options.nodedir ??
    (existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined);
  const systemPaths = [prefix, npmRoot, ...(nodedir ? [nodedir] : [])].filter(
    (p) => p !== '/usr' && !p.startsWith('/usr/'),
  );
  const out: NodeToolchain = {
    node,
    nodeVersion: process.version,
    npmCli,
    npmVersion: npmPkg.version ?? 'unknown',
    nodeGyp,
    systemPaths: [...new Set(systemPaths)],
  };
  if (existsSync(shim)) out.nodeGypBin = shim;
  if (nodedir) out.nodedir = nodedir;
  return out;
}

async function findNpmCli(prefix: string): Promise<string | undefined> {
  const beside = path.join(prefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (existsSync(beside)) return beside;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (!existsSync(candidate)) continue;
    const real = await realpath(candidate).catch(() => undefined);
    if (real?.endsWith('npm-cli.js')) return real;
  }
  return undefined;
}
