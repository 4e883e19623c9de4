/**
 * `POST /-/vetted/api/tree`: a whole tree's statuses in one call (and, with `queue`, every
 * unknown node queued at once); `POST /-/vetted/api/tree/attest`: the same statuses as a signed
 * in-toto statement over the lockfile's digest. Used by `vetted check`.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Vetted } from '../vetted';
import { treeRequestSchema, treeStatus } from '../tree/status';
import { buildStatement, signStatement, subjectSchema } from '../tree/attest';
import { redactUrl } from '../log/redact';

const attestSchema = z.object({
  subject: subjectSchema,
  nodes: treeRequestSchema.shape.nodes,
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyContext = Context<any>;

export function registerTreeRoutes(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  app: Hono<any>,
  deps: {
    engine: () => Vetted;
    requireReader: (c: AnyContext) => void;
    readJson: (c: AnyContext) => Promise<unknown>;
  },
): void {
  app.post('/tree', async (c) => {
    deps.requireReader(c);
    const request = treeRequestSchema.parse(await deps.readJson(c));
    return c.json(await treeStatus(deps.engine(), request));
  });

  app.post('/tree/attest', async (c) => {
    deps.requireReader(c);
    const body = attestSchema.parse(await deps.readJson(c));
    const vetted = deps.engine();
    const { results } = await treeStatus(vetted, {
      nodes: body.nodes,
      edges: [],
      queue: false,
      replacements: false,
    });
    const statement = buildStatement(body.subject, results, {
      registry: redactUrl(publicUrl(c)),
      policy: { preset: vetted.policy.preset, digest: vetted.policy.digest },
    });
    return c.json({ envelope: signStatement(statement, vetted.index.signer), statement });
  });
}

function publicUrl(c: AnyContext): string {
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() ?? 'http';
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? 'localhost';
  return `${proto}://${host}/`;
}
