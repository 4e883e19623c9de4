/**
 * The console's page shell and its stylesheet (served by the console itself at
 * `/-/vetted/console.css`; nothing is fetched from elsewhere). Pages are server-rendered with
 * hono/html, which escapes every interpolated value.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const BASE = '/-/vetted';

export interface PageContext {
  user?: { name: string; admin: boolean };
  csrf?: string;
}

const NAV = [
  ['held', 'Held', `${BASE}/`],
  ['versions', 'All versions', `${BASE}/versions`],
  ['queue', 'Queue', `${BASE}/queue`],
  ['audit', 'Audit log', `${BASE}/audit`],
  ['exemptions', 'Exemptions', `${BASE}/exemptions`],
  ['health', 'Health', `${BASE}/health`],
] as const;

export function page(
  ctx: PageContext,
  opts: { title: string; active?: string; refresh?: number },
  body: Html,
): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${opts.refresh ? html`<meta http-equiv="refresh" content="${opts.refresh}" />` : ''}
        ${ctx.csrf ? html`<meta name="csrf-token" content="${ctx.csrf}" />` : ''}
        <title>${opts.title} · vetted</title>
        <link rel="stylesheet" href="${BASE}/console.css" />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="${BASE}/">vetted</a>
          ${
            ctx.user
              ? html`<nav>
                    ${NAV.map(
                      ([id, label, href]) =>
                        html`<a href="${href}" ${opts.active === id ? 'aria-current="page"' : ''}
                          >${label}</a
                        >`,
                    )}
                  </nav>
                  <form class="who" method="post" action="${BASE}/logout">
                    <span
                      >${ctx.user.name}${ctx.user.admin ? html` <b class="tag">admin</b>` : ''}</span
                    >
                    <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}" />
                    <button class="link">Log out</button>
                  </form>`
              : ''
          }
        </header>
        <main>${body}</main>
      </body>
    </html>`;
}

/** The status as a coloured badge. */
export function badge(status: string): Html {
  return html`<span class="badge s-${status}">${status}</span>`;
}

/** `2026-12-03 16:14 UTC` with the full ISO time on hover. */
export function when(iso: string | undefined): Html {
  if (!iso) return html`<span class="muted">–</span>`;
  const text = iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  return html`<time datetime="${iso}" title="${iso}">${text}</time>`;
}

export function versionHref(name: string, version: string): string {
  return `${BASE}/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
}

export const CSS = `
:root{--fg:#1d2330;--muted:#5d6675;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--accent:#2f5bd3;
--ok:#1f7a3f;--warn:#9a6200;--bad:#b42318;--info:#3b5b8c;font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
*{box-sizing:border-box}body{margin:0}a{color:var(--accent)}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.6rem 1.25rem;
background:#16203a;color:#fff}.top a{color:#dbe4ff;text-decoration:none}
.brand{font-weight:700;font-size:1.1rem;color:#fff!important}
.top nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;flex:1}
.top nav a[aria-current]{color:#fff;border-bottom:2px solid #8fb0ff}
.who{display:flex;gap:.6rem;align-items:center;font-size:.9rem;margin:0}
.tag{background:#8fb0ff;color:#16203a;border-radius:3px;padding:0 .3rem;font-size:.75rem}
button.link{background:none;border:0;color:#dbe4ff;text-decoration:underline;cursor:pointer;
font:inherit;padding:0}
main{max-width:1180px;margin:0 auto;padding:1.25rem}
h1{font-size:1.45rem;margin:.2rem 0 1rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem;
margin-bottom:1rem}
.muted{color:var(--muted)}.small{font-size:.85rem}
.badge{display:inline-block;border-radius:999px;padding:.05rem .6rem;font-size:.8rem;
font-weight:600;border:1px solid currentColor;white-space:nowrap}
.s-verified,.s-approved,.s-pass{color:var(--ok)}.s-held,.s-warn,.s-pending{color:var(--warn)}
.s-rejected,.s-denied,.s-revoked,.s-fail,.s-error{color:var(--bad)}
.s-unavailable{color:var(--muted)}
.sev{font-size:.75rem;font-weight:700;text-transform:uppercase;padding:.05rem .4rem;border-radius:3px;
background:#eef1f6}.sev-critical,.sev-high{background:#fde8e6;color:var(--bad)}
.sev-medium{background:#fff3dc;color:var(--warn)}
.table{width:100%;overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.02em}
td.wrap{overflow-wrap:anywhere;min-width:12rem}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f1f3f7;padding:.6rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap;
overflow-wrap:anywhere;margin:.3rem 0}
.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.82rem;color:var(--muted);gap:.2rem}
input,select,textarea{font:inherit;padding:.4rem .5rem;border:1px solid #c5ccd8;border-radius:6px;
background:#fff;color:var(--fg)}textarea{width:100%;min-height:4.5rem}
button,.button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:1px solid var(--accent);
background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);
border-color:var(--bad)}
.finding{border-left:4px solid var(--line);padding:.5rem .8rem;margin:.6rem 0;background:#fbfcfd;
overflow-x:auto}
.finding.f-high,.finding.f-critical{border-left-color:var(--bad)}
.finding.f-medium{border-left-color:var(--warn)}.finding.f-low,.finding.f-info{border-left-color:#9fb3d1}
.finding p{margin:.4rem 0}
.finding .head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.layer{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;align-items:center}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .9rem;margin:.3rem 0}
dl.kv dt{color:var(--muted);font-size:.85rem}dl.kv dd{margin:0;overflow-wrap:anywhere;min-width:0}
details>summary{cursor:pointer;color:var(--accent);margin:.3rem 0}
.decide{display:grid;gap:.7rem}.decide .row{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}
.reasons li{margin:.2rem 0}.flash{border-left:4px solid var(--ok);background:#eef8f1}
.flash.bad{border-left-color:var(--bad);background:#fdf0ee}
.bar{height:.5rem;background:#e5e9f0;border-radius:4px;overflow:hidden;min-width:6rem}
.bar>span{display:block;height:100%;background:var(--accent)}
.d-added{color:var(--ok)}.d-removed{color:var(--bad)}.d-changed{color:var(--warn)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}
.stat{font-size:1.6rem;font-weight:700}
@media (max-width:640px){main{padding:.75rem}.top{padding:.5rem .75rem}
.top nav{order:3;flex-basis:100%}.who{margin-left:auto}td.wrap{min-width:8rem}table.stack td.wrap{min-width:0}
dl.kv{grid-template-columns:1fr}dl.kv dt{margin-top:.3rem}
table.stack thead{display:none}table.stack tr{display:block;border-bottom:1px solid var(--line);
padding:.4rem 0}table.stack td{display:block;border:0;padding:.15rem .2rem}
table.stack td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.8rem}}
`;
