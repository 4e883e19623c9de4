/**
 * `vetted serve`: Verdaccio 6.8 with the vetted plugin, in this process, so the pid you hold is
 * the server's. Builds the effective configuration from the config file and the flags: storage,
 * users and the index under --home, the uplink from --upstream or the npm config.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import { ensureAdminUser } from '../auth/htpasswd';
import { closeAllInstances, homePaths, isMounted } from '../vetted';
import { openDatabase } from '../index/database';
import { redactUrl } from '../log/redact';
import { isVettedError } from '../errors';
import { DEFAULT_UPSTREAM, parseOptions } from '../config/options';

export interface ServeFlags {
  config?: string;
  listen?: string;
  home?: string;
  upstream?: string;
}

export const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_CONFIG = join(PACKAGE_ROOT, 'config', 'config.yaml');
export const DEFAULT_LISTEN = '127.0.0.1:4873';

type YamlConfig = Record<string, unknown> & {
  storage?: string;
  plugins?: string;
  listen?: string | string[];
  auth?: { htpasswd?: { file?: string } };
  uplinks?: Record<string, { url?: string }>;
  middlewares?: Record<string, Record<string, unknown> | undefined>;
  filters?: Record<string, unknown>;
};

export async function serve(flags: ServeFlags): Promise<Server> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const verdaccio = require('verdaccio') as {
    parseConfigFile(path: string): YamlConfig;
    runServer(config: YamlConfig, options?: { listenArg?: string }): Promise<Server>;
  };
  const configPath = resolve(flags.config ?? DEFAULT_CONFIG);
  if (!existsSync(configPath)) throw new Error(`no config file at ${configPath}`);
  const configDir = dirname(configPath);
  const home = resolve(flags.home ?? process.env.VETTED_HOME ?? '.vetted');
  mkdirSync(home, { recursive: true, mode: 0o700 });

  const config = verdaccio.parseConfigFile(configPath);
  const listen =
    flags.listen ?? (typeof config.listen === 'string' ? config.listen : DEFAULT_LISTEN);
  config.self_path = configPath;
  config.configPath = configPath;
  config.storage = join(home, 'storage');
  if (config.plugins && !isAbsolute(config.plugins))
    config.plugins = resolve(configDir, config.plugins);
  const htpasswd = config.auth?.htpasswd;
  if (htpasswd) htpasswd.file = join(home, 'htpasswd');

  const upstream =
    flags.upstream ?? (configPath === DEFAULT_CONFIG ? npmRegistry(listen) : undefined);
  if (upstream) {
    for (const uplink of Object.values(config.uplinks ?? {})) uplink.url = upstream;
  }
  config.middlewares = config.middlewares ?? {};
  config.middlewares.vetted = { ...(config.middlewares.vetted ?? {}), home };
  if (upstream) config.middlewares.vetted.upstream = upstream;

  // refuse to start rather than let Verdaccio run without the gate (it skips plugins that fail)
  const pluginsDir = config.plugins ?? join(PACKAGE_ROOT, 'plugins');
  if (!existsSync(join(pluginsDir, 'verdaccio-vetted', 'package.json'))) {
    throw new Error(
      `the plugins folder ${pluginsDir} has no verdaccio-vetted; set \`plugins:\` in ${configPath} to ${join(PACKAGE_ROOT, 'plugins')}`,
    );
  }
  // metadata without the filter would list every version: the middleware answers 503 then
  config.filters = { ...config.filters, 'vetted-filter': config.filters?.['vetted-filter'] ?? {} };
  if (!existsSync(join(pluginsDir, 'verdaccio-vetted-filter', 'package.json'))) {
    throw new Error(`the plugins folder ${pluginsDir} has no verdaccio-vetted-filter`);
  }
  parseOptions(config.middlewares.vetted, {
    configDir,
    storage: config.storage,
    uplinkUrl: Object.values(config.uplinks ?? {})[0]?.url,
  });

  // a second server on a home in use would share its storage and answer 503 for every
  // tarball: it refuses to start instead, as it does on a port in use
  const index = await openDatabase(homePaths(home).index, { createIfMissing: false }).catch(
    (err: unknown) => {
      if (isVettedError(err, 'INDEX_LOCKED')) throw err;
      return undefined; // not there yet, or unreadable: the plugin says which at start
    },
  );
  await index?.db.close();

  if (htpasswd?.file) {
    const created = ensureAdminUser(htpasswd.file, home);
    if (created) {
      process.stdout.write(
        `vetted: created the admin user; its password is in ${created} (mode 0600)\n`,
      );
    }
  }

  process.stdout.write(
    `vetted: home ${home}\nvetted: upstream ${redactUrl(upstream ?? Object.values(config.uplinks ?? {})[0]?.url ?? '(from config)')}\n`,
  );
  const server = await verdaccio.runServer(config, { listenArg: listen });
  if (!isMounted()) {
    throw new Error(
      'Verdaccio did not load the vetted plugin (see its log); refusing to serve unverified packages',
    );
  }
  const { host, port } = splitListen(listen);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  process.stdout.write(`vetted: listening on http://${host}:${port}/\n`);

  const shutdown = (signal: string) => {
    process.stdout.write(`vetted: ${signal}, closing\n`);
    server.close();
    void closeAllInstances().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return server;
}

/** The registry from the user's npm config, unless it is this server itself. */
function npmRegistry(listen: string): string {
  let registry = DEFAULT_UPSTREAM;
  try {
    registry = execFileSync('npm', ['config', 'get', 'registry'], {
      encoding: 'utf8',
      timeout: 15_000,
    }).trim();
  } catch {
    return DEFAULT_UPSTREAM;
  }
  const { host, port } = splitListen(listen);
  try {
    const url = new URL(registry);
    const local = (h: string) => ['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0'].includes(h);
    const sameHost = url.hostname === host || (local(url.hostname) && local(host));
    const self = sameHost && Number(url.port || (url.protocol === 'https:' ? 443 : 80)) === port;
    return self || !/^https?:$/.test(url.protocol) ? DEFAULT_UPSTREAM : registry;
  } catch {
    return DEFAULT_UPSTREAM;
  }
}

export function splitListen(listen: string): { host: string; port: number } {
  const cleaned = listen.replace(/^https?:\/\//, '').replace(/\/$/, '');
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(cleaned);
  if (!match) throw new Error(`--listen expects HOST:PORT or PORT, got ${listen}`);
  return { host: match[1] || '127.0.0.1', port: Number(match[2]) };
}
