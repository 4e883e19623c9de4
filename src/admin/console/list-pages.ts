/**
 * The console's list pages: versions (the held list, newest first, with filters by status,
 * package and finding code), the verification queue, and the audit log.
 */
import { html } from 'hono/html';
import { BASE, badge, page, versionHref, when } from './layout';
import type { Html, PageContext } from './layout';
import type { AuditEntry, Job, VersionRecord } from '../../types';
import { STATUSES } from '../../types';

export interface VersionFilters {
  status?: string;
  name?: string;
  code?: string;
}

export function versionsPage(
  ctx: PageContext,
  filters: VersionFilters,
  records: VersionRecord[],
  active: 'held' | 'versions',
): Html {
  const heading = filters.status === 'held' && !filters.name && !filters.code;
  return page(
    ctx,
    { title: heading ? 'Held versions' : 'Versions', active },
    html`<h1>${heading ? 'Held versions' : 'Versions'}</h1>
      <form class="card filters" method="get" action="${BASE}/versions">
        <label
          >Status
          <select name="status">
            <option value="">any</option>
            ${STATUSES.map(
              (s) =>
                html`<option value="${s}" ${filters.status === s ? 'selected' : ''}>${s}</option>`,
            )}
          </select>
        </label>
        <label
          >Package <input name="name" value="${filters.name ?? ''}" placeholder="name"
        /></label>
        <label
          >Finding <input name="code" value="${filters.code ?? ''}" placeholder="SHELL_SPAWN"
        /></label>
        <button>Filter</button>
      </form>
      ${
        records.length === 0
          ? html`<p class="card muted">Nothing matches.</p>`
          : html`<div class="card table">
              <table class="stack" id="versions">
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>Status</th>
                    <th>Findings</th>
                    <th>First reason</th>
                    <th>Decided</th>
                  </tr>
                </thead>
                <tbody>
                  ${records.map(versionRow)}
                </tbody>
              </table>
            </div>`
      }`,
  );
}

function versionRow(r: VersionRecord): Html {
  // info findings (coverage notes, expected compilers) say nothing about why it is held
  const codes = [
    ...new Set(
      r.layers.flatMap((l) => l.findings.filter((f) => f.severity !== 'info').map((f) => f.code)),
    ),
  ];
  return html`<tr>
    <td class="wrap" data-label="Version">
      <a href="${versionHref(r.name, r.version)}">${r.name}@${r.version}</a>
    </td>
    <td data-label="Status">${badge(r.status)}</td>
    <td data-label="Findings">${codes.map((c) => html`<code>${c}</code> `)}</td>
    <td class="wrap" data-label="Reason">${r.reasons[0] ?? r.reason ?? ''}</td>
    <td data-label="Decided">${when(r.decidedAt)}</td>
  </tr>`;
}

export function queuePage(
  ctx: PageContext,
  jobs: Array<Job & { running: boolean; startedAt?: string }>,
  limits: { workers: number; jobTimeoutMs: number; maxAttempts: number },
): Html {
  const running = jobs.filter((j) => j.running).length;
  const now = Date.now();
  return page(
    ctx,
    { title: 'Queue', active: 'queue', refresh: 5 },
    html`<h1>Verification queue</h1>
      <p class="muted">
        ${running} running of ${limits.workers} workers, ${jobs.length - running} waiting. This page
        refreshes every 5 s.
      </p>
      ${
        jobs.length === 0
          ? html`<p class="card muted">The queue is empty.</p>`
          : html`<div class="card table">
              <table class="stack">
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>State</th>
                    <th>Progress</th>
                    <th>Trigger</th>
                    <th>Queued</th>
                    <th>Last error</th>
                  </tr>
                </thead>
                <tbody>
                  ${jobs.map((j) => {
                    const elapsed = now - Date.parse(j.startedAt ?? j.enqueuedAt);
                    const share = Math.min(1, elapsed / limits.jobTimeoutMs);
                    return html`<tr>
                      <td class="wrap" data-label="Version">${j.name}@${j.version}</td>
                      <td data-label="State">${badge(j.running ? 'running' : 'pending')}</td>
                      <td data-label="Progress">
                        ${
                          j.running
                            ? html`<div class="bar" title="time used of the job's limit">
                                  <span style="width:${Math.round(share * 100)}%"></span>
                                </div>
                                <span class="small muted"
                                  >${Math.round(elapsed / 1000)} s of ${limits.jobTimeoutMs / 1000}
                                  s, attempt ${j.attempts + 1} of ${limits.maxAttempts}</span
                                >`
                            : html`<span class="small muted"
                                >${j.notBefore ? html`retry after ${when(j.notBefore)}` : 'waiting'}</span
                              >`
                        }
                      </td>
                      <td data-label="Trigger">${j.trigger}</td>
                      <td data-label="Queued">${when(j.enqueuedAt)}</td>
                      <td class="wrap" data-label="Last error">${j.lastError ?? ''}</td>
                    </tr>`;
                  })}
                </tbody>
              </table>
            </div>`
      }`,
  );
}

export function auditPage(
  ctx: PageContext,
  entries: AuditEntry[],
  name: string | undefined,
  chain: { ok: boolean; entries: number; problem?: string },
): Html {
  return page(
    ctx,
    { title: 'Audit log', active: 'audit' },
    html`<h1>Audit log${name ? html` of ${name}` : ''}</h1>
      <p class="card ${chain.ok ? 'flash' : 'flash bad'}">
        ${
          chain.ok
            ? `The hash chain of all ${chain.entries} entries verifies.`
            : `The audit chain does not verify: ${chain.problem}`
        }
      </p>
      <form class="card filters" method="get" action="${BASE}/audit">
        <label>Package <input name="name" value="${name ?? ''}" /></label>
        <button>Filter</button>
      </form>
      <div class="card table">
        <table class="stack" id="audit">
          <thead>
            <tr>
              <th>#</th>
              <th>Time</th>
              <th>Action</th>
              <th>Actor</th>
              <th>Version</th>
              <th>Status</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            ${entries.map(
              (e) =>
                html`<tr>
                  <td data-label="#">${e.seq}</td>
                  <td data-label="Time">${when(e.at)}</td>
                  <td data-label="Action"><b>${e.action}</b></td>
                  <td data-label="Actor">
                    ${e.actor.name} <span class="muted small">${e.actor.kind}</span>
                  </td>
                  <td class="wrap" data-label="Version">
                    ${
                      e.version === '*'
                        ? `${e.name} (all versions)`
                        : html`<a href="${versionHref(e.name, e.version)}"
                            >${e.name}@${e.version}</a
                          >`
                    }
                  </td>
                  <td data-label="Status">${e.status ? badge(e.status) : ''}</td>
                  <td class="wrap" data-label="Reason">${e.reason ?? ''}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  );
}
