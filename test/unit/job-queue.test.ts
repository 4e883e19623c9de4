import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/index/database';
import { loadOrCreateSigner } from '../../src/index/signer';
import { VerifiedIndex } from '../../src/index/verified-index';
import { JobQueue } from '../../src/queue/job-queue';
import type { JobOutcome, ProcessJobFn } from '../../src/queue/job-queue';
import type { Job } from '../../src/types';
import { sampleRecord } from './verified-index.test';

/** A give-up verdict: the job's version held with `reason`. */
function heldOutcome(job: Job, reason: string): JobOutcome {
  return {
    record: { ...sampleRecord(job.name, job.version, 'held'), reasons: [reason] },
    audit: {
      action: 'verdict',
      actor: { kind: 'policy', name: 't' },
      name: job.name,
      version: job.version,
      status: 'held',
    },
  };
}

async function openAll(dir: string, process: ProcessJobFn, workers = 1) {
  const subs = await openDatabase(join(dir, 'index'));
  const index = await VerifiedIndex.open(subs, loadOrCreateSigner(join(dir, 'keys')));
  const giveUp = (job: Job): JobOutcome => heldOutcome(job, 'gave up');
  const queue = await JobQueue.open(subs, index, process, giveUp, {
    workers,
    jobTimeoutMs: 2000,
    maxAttempts: 2,
    retryDelayMs: 10,
  });
  return { subs, index, queue };
}

const verdict = (job: Job): JobOutcome => ({
  record: sampleRecord(job.name, job.version),
  audit: {
    action: 'verdict',
    actor: { kind: 'policy', name: 't' },
    name: job.name,
    version: job.version,
    status: 'verified',
  },
});

describe('JobQueue', () => {
  it('lists when a running job started, for the console progress', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-queue-'));
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { subs, queue } = await openAll(dir, async (job) => {
      await gate;
      return verdict(job);
    });
    queue.start();
    const before = Date.now();
    await queue.enqueue('p', '1.0.0', 'install');
    await queue.enqueue('p', '2.0.0', 'install');
    const [running, waiting] = queue.list();
    assert.equal(running?.running, true);
    assert.ok(Date.parse(running?.startedAt ?? '') >= before - 5);
    assert.equal(waiting?.running, false);
    assert.equal(waiting?.startedAt, undefined);
    release();
    await queue.waitFor('p', '2.0.0', 2000);
    await queue.stop();
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps queued jobs across a restart and completes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-queue-'));
    const first = await openAll(dir, async () => verdict({} as Job));
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) await first.queue.enqueue('p', v, 'background');
    await first.subs.db.close(); // never started: as if the process died
    const seen: string[] = [];
    const second = await openAll(dir, async (job) => {
      seen.push(job.version);
      return verdict(job);
    });
    assert.equal(second.queue.depth().queued, 3);
    second.queue.start();
    await second.queue.waitFor('p', '1.0.2', 5000);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen.sort(), ['1.0.0', '1.0.1', '1.0.2']);
    assert.equal((await second.index.get('p', '1.0.1'))?.status, 'verified');
    assert.equal(second.queue.depth().queued + second.queue.depth().running, 0);
    await second.queue.stop();
    await second.subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs install-triggered jobs before background ones and de-duplicates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-queue-'));
    const order: string[] = [];
    const { queue, subs } = await openAll(dir, async (job) => {
      order.push(`${job.name}@${job.version}`);
      return verdict(job);
    });
    assert.equal(await queue.enqueue('bg', '1.0.0', 'background'), true);
    assert.equal(await queue.enqueue('bg', '1.0.0', 'background'), false);
    await queue.enqueue('bg', '2.0.0', 'background');
    await queue.enqueue('hot', '1.0.0', 'install');
    await queue.enqueue('bg', '2.0.0', 'install'); // promoted
    assert.equal(queue.depth().queued, 3);
    queue.start();
    await queue.waitFor('bg', '1.0.0', 5000);
    assert.deepEqual(order, ['hot@1.0.0', 'bg@2.0.0', 'bg@1.0.0']);
    await queue.stop();
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries a failing job, then stores the give-up verdict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-queue-'));
    let attempts = 0;
    const { queue, index, subs } = await openAll(dir, async () => {
      attempts++;
      throw new Error('upstream down');
    });
    queue.start();
    await queue.enqueue('flaky', '1.0.0', 'install');
    const record = await queue.waitFor('flaky', '1.0.0', 5000);
    assert.equal(attempts, 2);
    assert.equal(record?.status, 'held');
    assert.equal((await index.get('flaky', '1.0.0'))?.status, 'held');
    await queue.stop();
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('JobQueue time limit', () => {
  it('gives up on a job that ignores its signal once the limit passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-queue-'));
    const subs = await openDatabase(join(dir, 'index'));
    const index = await VerifiedIndex.open(subs, loadOrCreateSigner(join(dir, 'keys')));
    const giveUp = (job: Job, err: unknown): JobOutcome => heldOutcome(job, String(err));
    const never = () => new Promise<JobOutcome>(() => {});
    const queue = await JobQueue.open(subs, index, never, giveUp, {
      workers: 1,
      jobTimeoutMs: 100,
      maxAttempts: 1,
    });
    queue.start();
    await queue.enqueue('slow', '1.0.0', 'install');
    const record = await queue.waitFor('slow', '1.0.0', 5000);
    assert.equal(record?.status, 'held');
    assert.match(record?.reasons[0] ?? '', /timed out after 100 ms/);
    await queue.stop();
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
