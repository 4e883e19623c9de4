/**
 * Findings of one sandboxed run, grouped: one finding per code and severity, its message
 * naming what was seen (`postinstall: looked up evil.example, connected to 203.0.113.9:443`),
 * its evidence the phase and step, the facts of the run (timings, CPU) and the first few
 * syscall lines.
 */
import type { Finding, Severity } from '../types';
import type { Phase } from './expectations';
import type { TraceEvent } from './trace-events';

const MAX_EVIDENCE = 10;
const MAX_SUBJECTS = 6;

export class FindingCollector {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly ctx: { phase: Phase; step: string }) {}

  /** `subject` says what happened; `undefined` adds evidence without naming it again. */
  add(
    code: string,
    severity: Severity,
    subject: string | undefined,
    event: TraceEvent,
    extra: Record<string, unknown> = {},
  ): void {
    const line = event.line.length > 1000 ? `${event.line.slice(0, 1000)}…` : event.line;
    const group = this.group(code, severity, subject);
    if (group.events.length < MAX_EVIDENCE) {
      group.events.push({ pid: event.pid, line, ...definedOnly(extra) });
    }
  }

  /** A finding about the run as a whole; `facts` go to the top of its evidence. */
  addFact(code: string, severity: Severity, subject: string, facts: Record<string, unknown>) {
    Object.assign(this.group(code, severity, subject).facts, definedOnly(facts));
  }

  private group(code: string, severity: Severity, subject: string | undefined): Group {
    const key = `${code}:${severity}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { code, severity, subjects: [], events: [], facts: {}, count: 0 };
      this.groups.set(key, group);
    }
    group.count++;
    if (subject !== undefined && !group.subjects.includes(subject)) group.subjects.push(subject);
    return group;
  }

  findings(): Finding[] {
    return [...this.groups.values()].map((g) => {
      const shown = g.subjects.slice(0, MAX_SUBJECTS).join(', ') || 'contacted a DNS server';
      const more =
        g.subjects.length > MAX_SUBJECTS ? ` and ${g.subjects.length - MAX_SUBJECTS} more` : '';
      const expected = g.severity === 'info' ? ' (expected for its purpose)' : '';
      return {
        code: g.code,
        severity: g.severity,
        message: `${this.ctx.step}: ${shown}${more}${expected}`,
        evidence: {
          phase: this.ctx.phase,
          step: this.ctx.step,
          ...g.facts,
          count: g.count,
          ...(g.events.length > 0 ? { events: g.events } : {}),
        },
      };
    });
  }
}

interface Group {
  code: string;
  severity: Severity;
  subjects: string[];
  events: unknown[];
  facts: Record<string, unknown>;
  count: number;
}

function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
