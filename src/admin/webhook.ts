/**
 * Webhook notifications for held, rejected and revoked verdicts and integrity alerts.
 *
 * The outbox follows the audit log: each pass reads the entries after its cursor, turns the ones
 * that notify into deliveries, and stores them with the new cursor in one LevelDB batch. A crash
 * at any point loses nothing: the entries are already in the audit log, and the cursor moves only
 * with the deliveries it produced. Deliveries are POSTed in order of creation and retried with
 * exponential backoff until the receiver answers 2xx (or `maxAttempts` is reached).
 *
 * With a secret, `x-vetted-signature: sha256=<hex>` is the HMAC-SHA256 of the exact body.
 * Depends on the index (its audit log) and the database handle; knows nothing of HTTP servers.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { openSublevel, seqKey } from '../index/database';
import type { Db, Sublevel } from '../index/database';

import type { VerifiedIndex } from '../index/verified-index';
import type { WebhookEvent, WebhookOptions } from '../config/webhook-options';
import type { Logger } from '../log/logger';
import type { AuditEntry } from '../types';
import { errorMessage } from '../errors';
import { redactText, webhookTarget } from '../log/redact';

export interface WebhookPayload {
  id: string;
  event: WebhookEvent;
  name: string;
  version: string;
  status?: string;
  reason?: string;
  actor: string;
  at: string;
  auditSeq: number;
  /** The version page in the console. */
  link: string;
}

interface Delivery {
  payload: WebhookPayload;
  attempts: number;
  notBefore: number;
  lastError?: string;
}

export interface WebhookOutboxOptions extends WebhookOptions {
  /** First retry delay, ms, doubled per failure up to `maxDelayMs`. Default 2000. */
  retryDelayMs?: number;
  /** Longest wait between attempts. Default one hour. */
  maxDelayMs?: number;
  /** Attempts before a delivery is dropped (and logged as an error). Default 30. */
  maxAttempts?: number;
  /** One attempt's time limit. Default 10 s. */
  timeoutMs?: number;
}

/** The console page of a version, for links. */
export function versionPagePath(name: string, version: string): string {
  return `/-/vetted/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
}

/** Which event an audit entry notifies, if any. */
export function eventOf(entry: AuditEntry): WebhookEvent | undefined {
  if (entry.action === 'alert') return 'integrity';
  if (entry.action === 'revoke') return 'revoked';
  if (entry.action !== 'verdict') return undefined;
  if (entry.reason?.startsWith('INTEGRITY_MISMATCH')) return 'integrity';
  if (entry.status === 'held') return 'held';
  if (entry.status === 'rejected') return 'rejected';
  return undefined;
}

export class WebhookOutbox {
  readonly #sub: Sublevel;
  readonly #index: VerifiedIndex;
  readonly #options: Required<Omit<WebhookOutboxOptions, 'secret' | 'publicUrl'>> &
    Pick<WebhookOutboxOptions, 'secret' | 'publicUrl'>;
  readonly #logger: Logger;
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #cycle: Promise<void> = Promise.resolve();
  #stopped = true;
  /** Deliveries sent, for tests and metrics. */
  delivered = 0;

  private constructor(db: Db, index: VerifiedIndex, options: WebhookOutboxOptions, logger: Logger) {
    this.#sub = openSublevel(db, 'webhook');
    this.#index = index;
    this.#logger = logger;
    this.#options = {
      retryDelayMs: 2000,
      maxDelayMs: 3600_000,
      maxAttempts: 30,
      timeoutMs: 10_000,
      ...options,
    };
  }

  /** Opens the outbox; a first open starts after the current end of the audit log. */
  static async open(db: Db, index: VerifiedIndex, options: WebhookOutboxOptions, logger: Logger) {
    const outbox = new WebhookOutbox(db, index, options, logger);
    const cursor = (await outbox.#sub.get('cursor')) as number | undefined;
    if (typeof cursor === 'number') outbox.#cursor = cursor;
    else {
      outbox.#cursor = (await index.audit({ tail: 1 }))[0]?.seq ?? 0;
      await outbox.#sub.put('cursor', outbox.#cursor);
    }
    return outbox;
  }

  start(): void {
    this.#stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#cycle;
  }

  /** Reads new audit entries and sends what is due; called after each decision. */
  kick(): void {
    if (this.#stopped) return;
    this.#cycle = this.#cycle
      .then(() => this.#pass())
      .catch((err: unknown) => {
        this.#logger.error({ err: errorMessage(err) }, 'webhook outbox pass failed: @{err}');
      });
  }

  /** Deliveries waiting, oldest first. */
  async pending(): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for await (const [, value] of this.#sub.iterator({ gt: 'd!', lt: 'd~' })) {
      out.push(value as Delivery);
    }
    return out;
  }

  async #pass(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#collect();
    let next = Infinity;
    for await (const [key, value] of this.#sub.iterator({ gt: 'd!', lt: 'd~' })) {
      if (this.#stopped) return;
      const delivery = value as Delivery;
      if (delivery.notBefore > Date.now()) {
        next = Math.min(next, delivery.notBefore);
        continue;
      }
      const retryAt = await this.#send(key, delivery);
      if (retryAt !== undefined) next = Math.min(next, retryAt);
    }
    // a fallback pass now and then, and one when the next retry is due
    const wait = Math.min(Math.max(next - Date.now(), 50), 5000);
    if (!this.#stopped) this.#timer = setTimeout(() => this.kick(), wait);
  }

  /** Turns audit entries after the cursor into deliveries, atomically with the new cursor. */
  async #collect(): Promise<void> {
    const entries = await this.#index.audit({ fromSeq: this.#cursor + 1, limit: 1000 });
    if (entries.length === 0) return;
    const ops: Array<{ type: 'put'; key: string; value: unknown }> = [];
    for (const entry of entries) {
      const event = eventOf(entry);
      if (!event || !this.#options.events.includes(event)) continue;
      const payload: WebhookPayload = {
        id: randomUUID(),
        event,
        name: entry.name,
        version: entry.version,
        status: entry.status,
        reason: entry.reason,
        actor: entry.actor.name,
        at: entry.at,
        auditSeq: entry.seq,
        link: `${(this.#options.publicUrl ?? '').replace(/\/$/, '')}${versionPagePath(entry.name, entry.version)}`,
      };
      const delivery: Delivery = { payload, attempts: 0, notBefore: 0 };
      ops.push({ type: 'put', key: `d!${seqKey(entry.seq)}`, value: delivery });
    }
    const cursor = entries[entries.length - 1]?.seq ?? this.#cursor;
    ops.push({ type: 'put', key: 'cursor', value: cursor });
    // classic-level honours `sync` through a sublevel; the abstract types do not list it
    await this.#sub.batch(ops, { sync: true } as object);
    this.#cursor = cursor;
  }

  /** One attempt. Returns when to try again, or undefined when the delivery is done with. */
  async #send(key: string, delivery: Delivery): Promise<number | undefined> {
    const body = JSON.stringify(delivery.payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'vetted-webhook',
      'x-vetted-event': delivery.payload.event,
      'x-vetted-delivery': delivery.payload.id,
    };
    if (this.#options.secret) {
      const mac = createHmac('sha256', this.#options.secret).update(body).digest('hex');
      headers['x-vetted-signature'] = `sha256=${mac}`;
    }
    let problem: string;
    try {
      const res = await fetch(this.#options.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) {
        await this.#sub.del(key);
        this.delivered++;
        return undefined;
      }
      problem = `HTTP ${res.status}`;
    } catch (err) {
      // fetch says only "fetch failed"; the refused or reset connection is in its cause
      const cause = (err as { cause?: { code?: unknown } }).cause?.code;
      problem = redactText(errorMessage(err)) + (typeof cause === 'string' ? ` (${cause})` : '');
    }
    const attempts = delivery.attempts + 1;
    const fields = {
      url: webhookTarget(this.#options.url),
      event: delivery.payload.event,
      pkg: delivery.payload.name,
      version: delivery.payload.version,
      attempts,
      err: problem,
    };
    if (attempts >= this.#options.maxAttempts) {
      await this.#sub.del(key);
      this.#logger.error(fields, 'webhook @{url} gave up on @{event} @{pkg}@@{version}: @{err}');
      return undefined;
    }
    const delay = Math.min(
      this.#options.retryDelayMs * 2 ** (attempts - 1),
      this.#options.maxDelayMs,
    );
    const next: Delivery = {
      ...delivery,
      attempts,
      notBefore: Date.now() + delay,
      lastError: problem,
    };
    await this.#sub.put(key, next);
    this.#logger.warn(fields, 'webhook @{url} failed for @{pkg}@@{version} (@{err}); will retry');
    return next.notBefore;
  }
}
