/**
 * Renders any JSON value a layer leaves in a finding's `evidence` or its `summary`: objects as
 * key/value lists, arrays of like objects as tables, syscall and script lines as code. Layers
 * are added by several people; none needs a page of its own to be readable here.
 */
import { html } from 'hono/html';
import type { Html } from './layout';

const MAX_ITEMS = 60;
const MAX_DEPTH = 5;
/** Keys whose text reads best as code (syscall lines, commands, paths, hashes). */
const CODE_KEYS =
  /^(line|lines|command|script|cmd|argv|path|file|files|integrity|sha\d*|hash|expected|found)$/i;

export function renderValue(value: unknown, key = '', depth = 0): Html {
  if (value === null || value === undefined) return html`<span class="muted">–</span>`;
  if (typeof value === 'string') {
    if (CODE_KEYS.test(key) || value.includes('\n') || value.length > 120) {
      return html`<pre>${value}</pre>`;
    }
    return html`${value}`;
  }
  if (typeof value !== 'object') return html`${String(value)}`;
  if (depth >= MAX_DEPTH) return html`<pre>${JSON.stringify(value, null, 1)}</pre>`;
  if (Array.isArray(value)) return renderArray(value, key, depth);
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([, v]) => v !== undefined,
  );
  if (entries.length === 0) return html`<span class="muted">(empty)</span>`;
  return html`<dl class="kv">
    ${entries.map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${renderValue(v, k, depth + 1)}</dd>`,
    )}
  </dl>`;
}

function renderArray(items: unknown[], key: string, depth: number): Html {
  if (items.length === 0) return html`<span class="muted">none</span>`;
  const shown = items.slice(0, MAX_ITEMS);
  const more =
    items.length > MAX_ITEMS
      ? html`<p class="muted small">… ${items.length - MAX_ITEMS} more</p>`
      : '';
  if (shown.every((i) => i === null || typeof i !== 'object')) {
    if (CODE_KEYS.test(key))
      return html`<pre>${shown.map(String).join('\n')}</pre>
        ${more}`;
    return html`${shown.map(String).join(', ')}${more}`;
  }
  const columns = tableColumns(shown);
  if (columns) {
    return html`<div class="table">
        <table>
          <thead>
            <tr>
              ${columns.map((c) => html`<th>${c}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${shown.map(
              (row) =>
                html`<tr>
                  ${columns.map(
                    (c) =>
                      html`<td class="wrap">
                        ${renderValue((row as Record<string, unknown>)[c], c, depth + 1)}
                      </td>`,
                  )}
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${more}`;
  }
  return html`<ol>
      ${shown.map((i) => html`<li>${renderValue(i, key, depth + 1)}</li>`)}
    </ol>
    ${more}`;
}

/** The columns when every item is a flat object sharing at most seven keys in all. */
function tableColumns(items: unknown[]): string[] | undefined {
  const keys = new Set<string>();
  for (const item of items) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) return undefined;
    for (const [k, v] of Object.entries(item)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) return undefined;
      keys.add(k);
    }
  }
  return keys.size > 0 && keys.size <= 7 ? [...keys] : undefined;
}
