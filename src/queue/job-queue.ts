/**
 * The persistent verification queue, in the index's LevelDB. One job per `name@version`;
 * install-triggered jobs run before admin and background ones. A job is removed only in the
 * same batch that stores its decision, so a crash at any point leaves either the job (run again
 * after restart) or the decision, never neither. Workers run in this process, N at a time, each
 * job under a time limit.
 */
import { EventEmitter, once } from 'node:events';
import { versionKey } from '../index/database';
import type { Sublevels } from '../index/database';
import type { VerifiedIndex } from '../index/verified-index';
import type { AuditInput } from '../index/audit-chain';
import type { Job, JobTrigger, VersionRecord } from '../types';
import { errorCode, errorMessage } from '../errors';

const PRIORITY: Record<JobTrigger, number> = { install: 0, admin: 1, background: 2 };
/** Retries after an upstream outage never wait longer than this. */
const MAX_RETRY_DELAY_MS = 10 * 60 * 1000;

/** A verdict to store, or `notFound` when the upstream has no such version (nothing is stored). */
export type JobOutcome = { record: VersionRecord; audit: AuditInput } | { notFound: true };

/** Runs one job. Throwing means "try again later"; a verdict, even a failing one, is returned. */
export type ProcessJobFn = (job: Job, signal: AbortSignal) => Promise<JobOutcome>;
/** Turns a job that failed `maxAttempts` times into a final outcome. */
export type GiveUpFn = (job: Job, error: unknown) => JobOutcome;

export interface JobQueueOptions {
  /** Jobs run at once. Default: available parallelism, at least 2. */
  workers: number;
  /** Time limit of one attempt, ms. */
  jobTimeoutMs: number;
  /** Attempts before giving up. Default 3. */
  maxAttempts?: number;
  /** First retry delay, ms, doubled each attempt. Default 2000. */
  retryDelayMs?: number;
}

export interface QueueDepth {
  queued: number;
  running: number;
  byTrigger: Record<JobTrigger, number>;
}

export class JobQueue extends EventEmitter {
  readonly #subs: Sublevels;
  readonly #index: VerifiedIndex;
  readonly #process: ProcessJobFn;
  readonly #giveUp: GiveUpFn;
  readonly #options: Required<JobQueueOptions>;
  /** name@version -> job, mirroring the jobs sublevel. */
  readonly #jobs = new Map<string, Job>();
  readonly #running = new Map<string, AbortController>();
  /** name@version -> when its current attempt started (epoch ms), for progress displays. */
  readonly #startedAt = new Map<string, number>();
  #counter = 0;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #mutex: Promise<unknown> = Promise.resolve();

  private constructor(
    subs: Sublevels,
    index: VerifiedIndex,
    process: ProcessJobFn,
    giveUp: GiveUpFn,
    options: JobQueueOptions,
  ) {
    super();
    this.setMaxListeners(0);
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new TypeError('workers must be a positive integer');
    }
    if (!(options.jobTimeoutMs > 0)) throw new TypeError('jobTimeoutMs must be positive');
    this.#subs = subs;
    this.#index = index;
    this.#process = process;
    this.#giveUp = giveUp;
    this.#options = { maxAttempts: 3, retryDelayMs: 2000, ...options };
  }

  /** Loads the jobs left by an earlier run; `start()` begins working on them. */
  static async open(
    subs: Sublevels,
    index: VerifiedIndex,
    process: ProcessJobFn,
    giveUp: GiveUpFn,
    options: JobQueueOptions,
  ): Promise<JobQueue> {
    const queue = new JobQueue(subs, index, process, giveUp, options);
    for await (const [, value] of subs.jobs.iterator()) {
      const job = value as Job;
      queue.#jobs.set(versionKey(job.name, job.version), job);
    }
    return queue;
  }

  start(): void {
    this.#stopped = false;
    this.#pump();
  }

  /** Stops taking jobs and aborts running ones; their jobs stay queued for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const running = [...this.#running.keys()];
    for (const controller of this.#running.values()) controller.abort(new Error('queue stopped'));
    await Promise.all(running.map((key) => once(this, `done:${key}`).catch(() => {})));
  }

  has(name: string, version: string): boolean {
    return this.#jobs.has(versionKey(name, version));
  }

  depth(): QueueDepth {
    const byTrigger: Record<JobTrigger, number> = { install: 0, admin: 0, background: 0 };
    for (const job of this.#jobs.values()) byTrigger[job.trigger]++;
    return { queued: this.#jobs.size - this.#running.size, running: this.#running.size, byTrigger };
  }

  list(): Array<Job & { running: boolean; startedAt?: string }> {
    return [...this.#jobs.values()]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((job) => {
        const id = versionKey(job.name, job.version);
        const started = this.#startedAt.get(id);
        return {
          ...job,
          running: this.#running.has(id),
          ...(started === undefined ? {} : { startedAt: new Date(started).toISOString() }),
        };
      });
  }

  /**
   * Queues `name@version` once. A job already queued with a lower priority is promoted.
   * Install and background jobs are not created for a version that already has a verdict;
   * admin jobs (re-verification) are.
   * @returns whether a new job was created.
   */
  async enqueue(name: string, version: string, trigger: JobTrigger): Promise<boolean> {
    const id = versionKey(name, version);
    const existing = this.#jobs.get(id);
    if (existing && PRIORITY[existing.trigger] <= PRIORITY[trigger]) return false;
    const created = await this.#exclusive(async () => {
      const current = this.#jobs.get(id);
      if (current && PRIORITY[current.trigger] <= PRIORITY[trigger]) return false;
      if (trigger !== 'admin' && !current && (await this.#index.get(name, version))) return false;
      const job: Job = {
        name,
        version,
        trigger,
        // an admin's request starts the clock again: its verdict may replace earlier decisions
        enqueuedAt: trigger === 'admin' || !current ? new Date().toISOString() : current.enqueuedAt,
        attempts: current?.attempts ?? 0,
        key: this.#jobKey(trigger),
      };
      await this.#subs.batch([
        ...(current ? [{ type: 'del' as const, sublevel: this.#subs.jobs, key: current.key }] : []),
        { type: 'put', sublevel: this.#subs.jobs, key: job.key, value: job },
        { type: 'put', sublevel: this.#subs.jobKeys, key: id, value: job.key },
      ]);
      this.#jobs.set(id, job);
      return current === undefined;
    });
    this.#pump();
    return created;
  }

  /** Resolves with the record once `name@version` is decided, or undefined after `ms`. */
  async waitFor(name: string, version: string, ms: number, signal?: AbortSignal) {
    const id = versionKey(name, version);
    if (!this.#jobs.has(id)) return this.#index.get(name, version);
    const timeout = AbortSignal.timeout(ms);
    const signals = signal ? AbortSignal.any([timeout, signal]) : timeout;
    try {
      const [record] = (await once(this, `settled:${id}`, { signal: signals })) as [VersionRecord];
      return record;
    } catch {
      return undefined;
    }
  }

  #jobKey(trigger: JobTrigger): string {
    const now = Date.now().toString().padStart(15, '0');
    const n = (this.#counter++ % 1e6).toString().padStart(6, '0');
    return `${PRIORITY[trigger]}!${now}!${n}`;
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = Date.now();
    let nextRetry = Infinity;
    const ready = [...this.#jobs.values()]
      .filter((job) => !this.#running.has(versionKey(job.name, job.version)))
      .sort((a, b) => a.key.localeCompare(b.key));
    for (const job of ready) {
      if (this.#running.size >= this.#options.workers) return;
      const at = job.notBefore ? Date.parse(job.notBefore) : 0;
      if (at > now) {
        nextRetry = Math.min(nextRetry, at);
        continue;
      }
      void this.#run(job);
    }
    if (nextRetry !== Infinity) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#pump(), nextRetry - now + 5);
    }
  }

  async #run(job: Job): Promise<void> {
    const id = versionKey(job.name, job.version);
    const controller = new AbortController();
    this.#running.set(id, controller);
    this.#startedAt.set(id, Date.now());
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.#options.jobTimeoutMs} ms`)),
      this.#options.jobTimeoutMs,
    );
    try {
      let outcome: JobOutcome | undefined;
      try {
        // the time limit holds even when a step does not honour the signal
        const aborted = new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
            once: true,
          });
        });
        aborted.catch(() => {});
        outcome = await Promise.race([this.#process(job, controller.signal), aborted]);
      } catch (err) {
        if (this.#stopped) return;
        // an upstream outage is not the package's fault: keep it pending and keep trying
        const outage = errorCode(err) === 'UPSTREAM_UNAVAILABLE';
        if (outage || job.attempts + 1 < this.#options.maxAttempts) {
          await this.#retryLater(job, err, outage);
          return;
        }
        outcome = this.#giveUp(job, err);
      }
      await this.#settle(job, outcome);
    } catch (err) {
      // the index refused the decision: keep the job and try again later
      this.emit('error', err);
      await this.#retryLater(job, err).catch(() => {});
    } finally {
      clearTimeout(timer);
      this.#running.delete(id);
      this.#startedAt.delete(id);
      this.emit(`done:${id}`);
      this.#pump();
    }
  }

  /**
   * Stores the verdict and removes the job in one batch, unless an admin decided on the version
   * after this job was queued: then the admin's decision stands and only the job goes.
   */
  async #settle(job: Job, outcome: JobOutcome): Promise<void> {
    const id = versionKey(job.name, job.version);
    let record: VersionRecord | undefined;
    await this.#exclusive(async () => {
      const current = this.#jobs.get(id);
      const extra = current
        ? [
            { type: 'del' as const, sublevel: 'jobs' as const, key: current.key },
            { type: 'del' as const, sublevel: 'jobKeys' as const, key: id },
          ]
        : [];
      const queuedAt = Date.parse(current?.enqueuedAt ?? job.enqueuedAt);
      if ('record' in outcome) {
        const stored = await this.#index.decideIf(
          outcome.record,
          outcome.audit,
          extra,
          (existing) =>
            !(existing?.decidedBy.kind === 'admin' && Date.parse(existing.decidedAt) > queuedAt),
        );
        record = stored ? outcome.record : await this.#index.get(job.name, job.version);
      } else {
        await this.#subs.batch(extra.map((op) => ({ ...op, sublevel: this.#subs[op.sublevel] })));
      }
      this.#jobs.delete(id);
    });
    this.emit(`settled:${id}`, record);
    if (record) this.emit('settled', record);
  }

  async #retryLater(job: Job, err: unknown, outage = false): Promise<void> {
    const id = versionKey(job.name, job.version);
    await this.#exclusive(async () => {
      const current = this.#jobs.get(id) ?? job;
      const attempts = outage ? current.attempts : current.attempts + 1;
      const outages = outage ? (current.outages ?? 0) + 1 : current.outages;
      const tries = attempts + (outages ?? 0);
      const delay = Math.min(this.#options.retryDelayMs * 2 ** (tries - 1), MAX_RETRY_DELAY_MS);
      const next: Job = {
        ...current,
        attempts,
        outages,
        notBefore: new Date(Date.now() + delay).toISOString(),
        lastError: errorMessage(err),
      };
      await this.#subs.jobs.put(next.key, next);
      this.#jobs.set(id, next);
    });
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#mutex.then(fn, fn);
    this.#mutex = run.catch(() => {});
    return run;
  }
}
