/**
 * `POST /-/vetted/api/tree`: a whole tree's statuses in one call (and, with `queue`, every
 * unknown node queued at once); `POST /-/vetted/api/tree/attest`: a signed in-toto statement of
 * the statuses of the packages in a lockfile. Used by `vetted check`.
 *
 * The attestation route reads the lockfile itself: it signs what it parsed and decided, never a
 * node list a client could have trimmed.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { AdminBindings, RemoteUser } from './app';
import type { Vetted } from '../vetted';
import { treeRequestSchema, treeStatus } from '../tree/status';
import { buildStatement, signStatement } from '../tree/attest';
import { loadTree } from '../tree/lockfiles';
import { baseUrl } from '../gate/respond';
import { VettedError } from '../errors';

type AdminContext = Context<{ Bindings: AdminBindings }>;

/** The lockfile names vetted reads; the name decides how the text is parsed. */
const LOCKFILE_NAMES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
] as const;

const attestSchema = z.object({
  lockfile: z.object({
    name: z.enum(LOCKFILE_NAMES),
    text: z.string().min(2),
  }),
});

export function registerTreeRoutes(
  app: Hono<{ Bindings: AdminBindings }>,
  deps: {
    engine: () => Vetted;
    requireReader: (c: AdminContext) => void;
    user: (c: AdminContext) => RemoteUser | undefined;
    readJson: (c: AdminContext) => Promise<unknown>;
  },
): void {
  const requireUser = (c: AdminContext, what: string): RemoteUser => {
    const remote = deps.user(c);
    if (!remote) {
      throw new VettedError('AUTH_REQUIRED', `${what} needs a logged-in user: send a token`);
    }
    return remote;
  };

  app.post('/tree', async (c) => {
    deps.requireReader(c);
    const request = treeRequestSchema.parse(await deps.readJson(c));
    // queueing costs sandbox time: only for someone the log can name
    if (request.queue) requireUser(c, 'queueing a tree for verification');
    return c.json(await treeStatus(deps.engine(), request));
  });

  app.post('/tree/attest', async (c) => {
    deps.requireReader(c);
    requireUser(c, 'a signed attestation');
    const { lockfile } = attestSchema.parse(await deps.readJson(c));
    const vetted = deps.engine();
    const nodes = await nodesOfLockfile(lockfile.name, lockfile.text);
    const { results } = await treeStatus(vetted, {
      nodes,
      edges: [],
      queue: false,
      replacements: false,
    });
    const statement = buildStatement(
      {
        name: lockfile.name,
        sha256: createHash('sha256').update(lockfile.text).digest('hex'),
      },
      results,
      {
        registry: `${baseUrl(c.env.incoming)}/`,
        policy: { preset: vetted.policy.preset, digest: vetted.policy.digest },
      },
    );
    return c.json({ envelope: signStatement(statement, vetted.index.signer), statement });
  });
}

/** Parses lockfile text with the same loaders as `vetted check`, from a private temp folder. */
async function nodesOfLockfile(
  name: (typeof LOCKFILE_NAMES)[number],
  text: string,
): Promise<Array<{ name: string; version: string }>> {
  const dir = await mkdtemp(join(tmpdir(), 'vetted-attest-'));
  try {
    await writeFile(join(dir, name), text, { mode: 0o600 });
    let graph;
    try {
      graph = await loadTree(join(dir, name));
    } catch (err) {
      throw new VettedError(
        'SPEC_INVALID',
        `the ${name} sent cannot be read: ${(err as Error).message.split(dir).join('')}`,
      );
    }
    const nodes = [...graph.nodes.values()].map((n) => ({ name: n.name, version: n.version }));
    if (nodes.length === 0) {
      throw new VettedError('SPEC_INVALID', `the ${name} sent lists no registry packages`);
    }
    return nodes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
