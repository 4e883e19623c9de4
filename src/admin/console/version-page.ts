/**
 * The version page: the verdict and why, each layer's outcome with its findings and evidence,
 * the layer summaries (rebuild diff, behaviour runs, publisher comparison: whatever a layer
 * measured), the file diff against the last admitted version, and the decision form.
 */
import { html } from 'hono/html';
import { BASE, badge, page, versionHref, when } from './layout';
import type { Html, PageContext } from './layout';
import { renderValue } from './render-value';
import type { FileChange, FileHash } from './file-diff';
import type { Finding, LayerResult, VersionRecord } from '../../types';
import { isAdmitted } from '../../types';

export interface Comparison {
  /** The last admitted version below this one, when there is one. */
  previous?: string;
  files?: FileHash[];
  changes?: FileChange[];
  /** Why there is nothing to compare. */
  note?: string;
}

export interface VersionView {
  record: VersionRecord;
  queued: boolean;
  keyId: string;
  comparison: Comparison;
  flash?: { ok: boolean; text: string };
}

export function versionPage(ctx: PageContext, view: VersionView): Html {
  const r = view.record;
  const title = `${r.name}@${r.version}`;
  return page(
    ctx,
    { title, active: r.status === 'held' ? 'held' : 'versions' },
    html`
      ${
        view.flash
          ? html`<div class="card flash ${view.flash.ok ? '' : 'bad'}" role="status">
              ${view.flash.text}
            </div>`
          : ''
      }
      <h1>${title} ${badge(r.status)}</h1>
      <div class="card">
        <dl class="kv">
          <dt>Decided</dt>
          <dd>${when(r.decidedAt)} by ${r.decidedBy.kind} <b>${r.decidedBy.name}</b></dd>
          ${
            r.reason
              ? html`<dt>Reason given</dt>
                  <dd>${r.reason}</dd>`
              : ''
          }
          ${
            r.policyStatus
              ? html`<dt>Policy said</dt>
                  <dd>${badge(r.policyStatus)}</dd>`
              : ''
          }
          <dt>Verified</dt>
          <dd>${when(r.verifiedAt)}</dd>
          <dt>Integrity</dt>
          <dd><code>${r.integrity ?? 'none published'}</code></dd>
          ${
            r.storedIntegrity && r.storedIntegrity !== r.integrity
              ? html`<dt>Stored bytes</dt>
                  <dd><code>${r.storedIntegrity}</code></dd>`
              : ''
          }
          <dt>Size</dt>
          <dd>${r.size === undefined ? '–' : `${r.size.toLocaleString('en')} bytes`}</dd>
          <dt>Policy</dt>
          <dd>${r.policy ? `${r.policy.preset} (${r.policy.digest.slice(0, 12)})` : '–'}</dd>
          <dt>Signed by</dt>
          <dd><code>${view.keyId}</code></dd>
          ${
            view.queued
              ? html`<dt>Queue</dt>
                  <dd>re-verification queued</dd>`
              : ''
          }
        </dl>
        ${reasonsList('Why', r.reasons)} ${reasonsList('Warnings', r.warnings)}
      </div>
      ${decisionForm(ctx, r)}
      <h2>Layers</h2>
      ${
        r.layers.length === 0
          ? html`<p class="muted">No layer ran (see the reason above).</p>`
          : r.layers.map(layerCard)
      }
      <h2>Files compared with the last admitted version</h2>
      ${comparisonCard(view.comparison, r.name)}
      <p class="small">
        <a href="${BASE}/audit?name=${encodeURIComponent(r.name)}">Audit log of ${r.name}</a>
      </p>
    `,
  );
}

function reasonsList(label: string, items: string[]): Html | string {
  if (items.length === 0) return '';
  return html`<h3 class="small muted">${label}</h3>
    <ul class="reasons">
      ${items.map((i) => html`<li>${i}</li>`)}
    </ul>`;
}

function layerCard(layer: LayerResult): Html {
  return html`<section class="card" id="layer-${layer.layer}">
    <div class="layer">
      <strong>${layer.layer}</strong>
      <span
        >${badge(layer.outcome)}
        <span class="muted small">${(layer.durationMs / 1000).toFixed(2)} s</span></span
      >
    </div>
    ${layer.reason ? html`<p class="muted">${layer.reason}</p>` : ''}
    ${layer.findings.map(findingBlock)}
    ${
      layer.summary
        ? html`<details>
            <summary>What ${layer.layer} measured</summary>
            ${renderValue(layer.summary)}
          </details>`
        : ''
    }
  </section>`;
}

function findingBlock(f: Finding): Html {
  return html`<div class="finding f-${f.severity}">
    <div class="head">
      <span class="sev sev-${f.severity}">${f.severity}</span>
      <code>${f.code}</code>
    </div>
    <p>${f.message}</p>
    ${
      f.evidence && Object.keys(f.evidence).length > 0
        ? html`<details ${['high', 'critical'].includes(f.severity) ? 'open' : ''}>
            <summary>Evidence</summary>
            ${renderValue(f.evidence)}
          </details>`
        : ''
    }
  </div>`;
}

function comparisonCard(c: Comparison, name: string): Html {
  if (!c.previous) {
    return html`<div class="card muted">${c.note ?? 'No earlier version was admitted.'}</div>`;
  }
  const changes = c.changes ?? [];
  return html`<div class="card">
    <p>
      Against <a href="${versionHref(name, c.previous)}">${name}@${c.previous}</a>:
      ${changes.length === 0 ? 'no file differs.' : `${changes.length} files differ`}
      <span class="muted small">(${c.files?.length ?? 0} files in this version)</span>
    </p>
    ${
      changes.length > 0
        ? html`<div class="table">
            <table class="stack">
              <thead>
                <tr>
                  <th>File</th>
                  <th>Change</th>
                  <th>Before (sha256, bytes)</th>
                  <th>Now (sha256, bytes)</th>
                </tr>
              </thead>
              <tbody>
                ${changes.map(
                  (d) =>
                    html`<tr>
                      <td class="wrap" data-label="File"><code>${d.path}</code></td>
                      <td data-label="Change" class="d-${d.change}">${d.change}</td>
                      <td data-label="Before">${hashCell(d.before)}</td>
                      <td data-label="Now">${hashCell(d.after)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
        : ''
    }
  </div>`;
}

function hashCell(f: FileHash | undefined): Html {
  if (!f) return html`<span class="muted">–</span>`;
  return html`<code title="${f.sha256}">${f.sha256.slice(0, 12)}…</code>
    <span class="muted small">${f.size}</span>`;
}

function decisionForm(ctx: PageContext, r: VersionRecord): Html | string {
  if (!ctx.user) return '';
  if (!ctx.user.admin) {
    return html`<p class="card muted">
      Decisions need a member of the admin group; you can read this page.
    </p>`;
  }
  const admitted = isAdmitted(r.status);
  const action = `${versionHref(r.name, r.version)}/decide`;
  return html`<form class="card decide" method="post" action="${action}">
    <h2 style="margin-top:0">Decide</h2>
    <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}" />
    <label
      >Reason (required, kept in the audit log)
      <textarea name="reason" required minlength="3" maxlength="2000"></textarea>
    </label>
    <div class="row">
      ${
        admitted
          ? ''
          : html`<label
                >Approve for
                <select name="scope">
                  <option value="version">this version only</option>
                  <option value="package">every version of ${r.name}, for a time</option>
                </select>
              </label>
              <label
                >Exemption lasts (hours)
                <input type="number" name="hours" value="168" min="1" max="2160" />
              </label>
              <button name="decision" value="approve">Approve</button>
              <button name="decision" value="deny" class="danger">Deny</button>`
      }
      ${admitted ? html`<button name="decision" value="revoke" class="danger">Revoke</button>` : ''}
      <button name="decision" value="reverify" class="secondary">Re-verify</button>
    </div>
  </form>`;
}
