import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/index/database';
import type { Sublevels } from '../../src/index/database';
import { loadOrCreateSigner } from '../../src/index/signer';
import type { Signer } from '../../src/index/signer';
import { VerifiedIndex } from '../../src/index/verified-index';
import { WebhookOutbox, eventOf } from '../../src/admin/webhook';
import type { WebhookOutboxOptions } from '../../src/admin/webhook';
import { silentLogger } from '../../src/log/logger';
import { freePort } from '../helpers/ports';
import type { AuditEntry, Status, VersionRecord } from '../../src/types';

const SECRET = 'a-test-secret-of-enough-length';

function record(name: string, status: Status): VersionRecord {
  return {
    name,
    version: '1.0.0',
    status,
    layers: [],
    reasons: [`WHY: ${name}`],
    warnings: [],
    decidedBy: { kind: 'policy', name: 'standard' },
    decidedAt: new Date().toISOString(),
  };
}

async function decideVerdict(index: VerifiedIndex, name: string, status: Status, reason?: string) {
  const r = record(name, status);
  await index.decide(r, {
    action: 'verdict',
    actor: r.decidedBy,
    name,
    version: '1.0.0',
    status,
    reason: reason ?? `WHY: ${name}`,
  });
}

/** A loopback receiver answering with the status `answer()` gives. */
function receiver(port: number, answer: () => number) {
  const got: Array<{ body: string; signature?: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      got.push({ body, signature: req.headers['x-vetted-signature'] as string | undefined });
      res.writeHead(answer()).end();
    });
  });
  return {
    got,
    listen: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the webhook outbox', () => {
  let dir: string;
  let subs: Sublevels;
  let signer: Signer;
  let index: VerifiedIndex;
  let port: number;
  let options: WebhookOutboxOptions;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vetted-webhook-'));
    subs = await openDatabase(join(dir, 'index'));
    signer = loadOrCreateSigner(join(dir, 'keys'));
    index = await VerifiedIndex.open(subs, signer);
    port = await freePort();
    options = {
      url: `http://127.0.0.1:${port}/hook`,
      secret: SECRET,
      events: ['held', 'rejected', 'revoked', 'integrity'],
      publicUrl: 'https://npm.example.com/',
      retryDelayMs: 30,
      maxDelayMs: 100,
    };
  });
  after(async () => {
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the event of each audit entry', () => {
    const base = { seq: 1, at: '', actor: { kind: 'policy', name: 'p' }, name: 'x', version: '1' };
    const of = (e: Partial<AuditEntry>) =>
      eventOf({ ...base, prev: '', hash: '', ...e } as AuditEntry);
    assert.equal(of({ action: 'verdict', status: 'held' }), 'held');
    assert.equal(of({ action: 'verdict', status: 'rejected' }), 'rejected');
    assert.equal(
      of({ action: 'verdict', status: 'rejected', reason: 'INTEGRITY_MISMATCH: x' }),
      'integrity',
    );
    assert.equal(of({ action: 'revoke', status: 'revoked' }), 'revoked');
    assert.equal(of({ action: 'verdict', status: 'verified' }), undefined);
    assert.equal(of({ action: 'approve', status: 'approved' }), undefined);
  });

  it('skips history on first open, then delivers new verdicts signed, with a link', async () => {
    await decideVerdict(index, 'old-held', 'held');
    const hook = receiver(port, () => 204);
    await hook.listen();
    const outbox = await WebhookOutbox.open(subs.db, index, options, silentLogger);
    outbox.start();
    await decideVerdict(index, 'new-held', 'held');
    await decideVerdict(index, 'fine', 'verified');
    await decideVerdict(index, 'bad', 'rejected');
    outbox.kick();
    await until(() => hook.got.length >= 2);
    await outbox.stop();
    await hook.close();
    const payloads = hook.got.map((g) => JSON.parse(g.body));
    assert.deepEqual(
      payloads.map((p) => `${p.event} ${p.name}`),
      ['held new-held', 'rejected bad'],
    );
    assert.equal(payloads[0].link, 'https://npm.example.com/-/vetted/versions/new-held/1.0.0');
    assert.equal(payloads[0].reason, 'WHY: new-held');
    for (const g of hook.got) {
      const mac = createHmac('sha256', SECRET).update(g.body).digest('hex');
      assert.equal(g.signature, `sha256=${mac}`);
    }
  });

  it('keeps a delivery through a restart while the receiver is down, then sends it once', async () => {
    const first = await WebhookOutbox.open(subs.db, index, options, silentLogger);
    first.start();
    await decideVerdict(index, 'while-down', 'held');
    first.kick();
    await until(async () => (await first.pending()).some((d) => d.attempts >= 1));
    await first.stop();

    // the process is gone; a new one opens the same database
    await subs.db.close();
    subs = await openDatabase(join(dir, 'index'));
    index = await VerifiedIndex.open(subs, signer);
    const hook = receiver(port, () => 200);
    await hook.listen();
    const second = await WebhookOutbox.open(subs.db, index, options, silentLogger);
    assert.equal((await second.pending()).length, 1);
    second.start();
    await until(async () => (await second.pending()).length === 0);
    await new Promise((r) => setTimeout(r, 200));
    await second.stop();
    await hook.close();
    assert.deepEqual(
      hook.got.map((g) => JSON.parse(g.body).name),
      ['while-down'],
    );
  });

  it('sends only the events asked for', async () => {
    const hook = receiver(port, () => 200);
    await hook.listen();
    const outbox = await WebhookOutbox.open(
      subs.db,
      index,
      { ...options, events: ['revoked'] },
      silentLogger,
    );
    outbox.start();
    await decideVerdict(index, 'held-again', 'held');
    await decideVerdict(index, 'gone', 'verified');
    const r = { ...record('gone', 'revoked') };
    await index.decide(r, {
      action: 'revoke',
      actor: { kind: 'admin', name: 'root' },
      name: 'gone',
      version: '1.0.0',
      status: 'revoked',
      reason: 'compromised maintainer',
    });
    outbox.kick();
    await until(() => hook.got.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    await outbox.stop();
    await hook.close();
    assert.deepEqual(
      hook.got.map((g) => `${JSON.parse(g.body).event} ${JSON.parse(g.body).name}`),
      ['revoked gone'],
    );
  });
});
