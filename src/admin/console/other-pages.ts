/**
 * The smaller console pages: login, health (workers, sandbox, index, webhook), exemptions with
 * the lockfile approval form, the result of a lockfile approval, and errors.
 */
import { html } from 'hono/html';
import { BASE, badge, page, versionHref, when } from './layout';
import type { Html, PageContext } from './layout';
import type { Exemption } from '../exemptions';
import type { ScopedApproval } from '../scoped-approval';

export function loginPage(error?: string, next = `${BASE}/`): Html {
  return page(
    {},
    { title: 'Log in' },
    html`<form class="card decide" method="post" action="${BASE}/login" style="max-width:26rem">
      <h1>Log in to vetted</h1>
      <p class="muted small">Use your registry account (the one <code>npm login</code> uses).</p>
      ${error ? html`<p class="flash bad card" role="alert">${error}</p>` : ''}
      <input type="hidden" name="next" value="${next}" />
      <label>User <input name="username" autocomplete="username" required /></label>
      <label
        >Password <input name="password" type="password" autocomplete="current-password" required
      /></label>
      <button>Log in</button>
    </form>`,
  );
}

export interface HealthView {
  startedAt: string;
  workers: number;
  queue: { queued: number; running: number };
  sandbox: { available: boolean; reason?: string };
  index: {
    counts: Record<string, number>;
    audit: { ok: boolean; entries: number; problem?: string };
  };
  compromised?: string;
  policy: { preset: string; source: string; digest: string };
  upstream: string;
  webhook?: { url: string; pending: number; delivered: number; oldestError?: string };
}

export function healthPage(ctx: PageContext, h: HealthView): Html {
  const total = Object.values(h.index.counts).reduce((a, b) => a + b, 0);
  return page(
    ctx,
    { title: 'Health', active: 'health' },
    html`<h1>Health</h1>
      <div class="grid">
        <div class="card">
          <div class="muted small">Workers</div>
          <div class="stat">${h.queue.running} / ${h.workers}</div>
          <div class="small">${h.queue.queued} waiting · up since ${when(h.startedAt)}</div>
        </div>
        <div class="card" id="sandbox">
          <div class="muted small">Sandbox (bubblewrap + strace)</div>
          <div class="stat">${badge(h.sandbox.available ? 'pass' : 'fail')}</div>
          <div class="small">
            ${h.sandbox.available ? 'a probe ran and was traced' : h.sandbox.reason}
          </div>
        </div>
        <div class="card">
          <div class="muted small">Verified index</div>
          <div class="stat">${total}</div>
          <div class="small">
            ${Object.entries(h.index.counts).map(([s, n]) => html`${badge(s)} ${n} `)}
          </div>
        </div>
        <div class="card">
          <div class="muted small">Audit chain</div>
          <div class="stat">${badge(h.index.audit.ok ? 'pass' : 'fail')}</div>
          <div class="small">
            ${h.index.audit.ok ? `${h.index.audit.entries} entries verify` : h.index.audit.problem}
          </div>
        </div>
      </div>
      ${h.compromised ? html`<p class="card flash bad">AUDIT ALERT: ${h.compromised}</p>` : ''}
      <div class="card">
        <dl class="kv">
          <dt>Policy</dt>
          <dd>${h.policy.preset} from ${h.policy.source} (${h.policy.digest.slice(0, 12)})</dd>
          <dt>Upstream</dt>
          <dd>${h.upstream}</dd>
          <dt>Webhook</dt>
          <dd>
            ${
              h.webhook
                ? html`${h.webhook.url}: ${h.webhook.delivered} delivered since start,
                  ${h.webhook.pending}
                  waiting${
                    h.webhook.oldestError ? html` (last error: ${h.webhook.oldestError})` : ''
                  }`
                : 'not configured'
            }
          </dd>
        </dl>
      </div>`,
  );
}

export function exemptionsPage(ctx: PageContext, exemptions: Exemption[]): Html {
  return page(
    ctx,
    { title: 'Exemptions', active: 'exemptions' },
    html`<h1>Exemptions in force</h1>
      <p class="muted">
        While an exemption lasts, a verdict that would hold a version it covers admits it instead.
        Rejections are never lifted.
      </p>
      ${
        exemptions.length === 0
          ? html`<p class="card muted">None.</p>`
          : html`<div class="card table">
              <table class="stack">
                <thead>
                  <tr>
                    <th>Covers</th>
                    <th>Scope</th>
                    <th>Until</th>
                    <th>By</th>
                    <th>Reason</th>
                  </tr>
                </thead>
                <tbody>
                  ${exemptions.slice(0, 500).map(
                    (e) =>
                      html`<tr>
                        <td class="wrap" data-label="Covers">
                          ${e.version ? html`<a href="${versionHref(e.name, e.version)}">${e.name}@${e.version}</a>` : `${e.name} (every version)`}
                        </td>
                        <td data-label="Scope">${e.scope}</td>
                        <td data-label="Until">${when(e.until)}</td>
                        <td data-label="By">${e.actor}</td>
                        <td class="wrap" data-label="Reason">${e.reason}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      ${
        ctx.user?.admin
          ? html`<form
              class="card decide"
              method="post"
              action="${BASE}/approve-lockfile"
              enctype="multipart/form-data"
            >
              <h2 style="margin-top:0">Approve a whole tree from a lockfile</h2>
              <p class="small muted">
                Every held version in the package-lock.json is approved now; every version in it is
                exempted until the expiry, so those still being verified are admitted when done.
              </p>
              <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}" />
              <label
                >package-lock.json
                <input type="file" name="lockfile" accept=".json,application/json"
              /></label>
              <label>or paste it <textarea name="lockfileText" rows="5"></textarea></label>
              <div class="row">
                <label
                  >Reason (required) <input name="reason" required minlength="3" size="40"
                /></label>
                <label
                  >Exemption lasts (hours)
                  <input type="number" name="hours" value="168" min="1" max="2160"
                /></label>
                <button>Approve tree</button>
              </div>
            </form>`
          : ''
      }`,
  );
}

export function lockfileResultPage(
  ctx: PageContext,
  results: ScopedApproval[],
  until: string,
): Html {
  const approved = results.filter((r) => r.result === 'approved').length;
  return page(
    ctx,
    { title: 'Tree approved', active: 'exemptions' },
    html`<h1>Lockfile approval</h1>
      <p class="card flash">
        ${approved} held versions approved; ${results.length} versions exempted until
        ${when(until)}.
      </p>
      <div class="card table">
        <table class="stack">
          <thead>
            <tr>
              <th>Version</th>
              <th>Now</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            ${results.map(
              (r) =>
                html`<tr>
                  <td class="wrap" data-label="Version">${r.name}@${r.version}</td>
                  <td data-label="Now">${badge(r.status)}</td>
                  <td data-label="Result">${r.result}${r.error ? `: ${r.error}` : ''}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  );
}

export function errorPage(ctx: PageContext, status: number, message: string): Html {
  return page(
    ctx,
    { title: `Error ${status}` },
    html`<div class="card flash bad" role="alert">
      <h1>
        ${status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'Something went wrong'}
      </h1>
      <p>${message}</p>
      <p><a href="${BASE}/">Back to the held list</a></p>
    </div>`,
  );
}
