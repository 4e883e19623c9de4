/**
 * Known advisories: a version named by a malicious-package advisory is a `fail`
 * (KNOWN_MALICIOUS, which the presets reject); other advisories are recorded as
 * KNOWN_VULNERABILITY warnings. Runs only when an advisory source is configured.
 */
import type { Layer } from '../layer';
import type { AdvisoryDb } from '../../advisories/osv';
import type { Finding } from '../../types';

export function createAdvisoriesLayer(db: AdvisoryDb): Layer {
  return {
    name: 'advisories',
    async run({ name, version }) {
      const matches = db.match(name, version);
      const findings: Finding[] = matches.map((m) => ({
        code: m.malicious ? 'KNOWN_MALICIOUS' : 'KNOWN_VULNERABILITY',
        severity: m.malicious ? 'critical' : 'medium',
        message: `${m.id}: ${m.summary}`,
        evidence: { id: m.id, ...(m.aliases ? { aliases: m.aliases } : {}), source: db.source },
      }));
      const outcome = matches.some((m) => m.malicious) ? 'fail' : findings.length ? 'warn' : 'pass';
      return { outcome, findings, summary: { advisories: db.size, source: db.source } };
    },
  };
}
