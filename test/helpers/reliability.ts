/**
 * Shared pieces of the reliability suite: the stress switch, timing figures printed as `# …`
 * lines, the process tree under a server, and polling helpers.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { RunningVetted } from './vetted';

/** `VETTED_STRESS=1` (set by `npm run test:stress`) raises the sizes to the full run. */
export const STRESS = process.env.VETTED_STRESS === '1';

/** Prints a figure on stderr; node's test runner shows it as a `# ` line. */
export function report(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The p-th percentile (0..100) of the values, nearest rank; undefined for none. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Peak resident set size (VmHWM) of a process in bytes. */
export function peakRssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** Total size of the files under `dir`, in bytes. */
export function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += duBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

/** The descendants of `root` (not `root` itself) with their command names, from /proc. */
export function descendants(root: number): Array<{ pid: number; comm: string }> {
  const children = new Map<number, number[]>();
  const comms = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    comms.set(Number(name), stat.slice(stat.indexOf('(') + 1, close));
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push({ pid, comm: comms.get(pid) ?? '' });
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Polls `check` every `everyMs` until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(everyMs);
  }
}

/** The job queued for `name@version`, if any. */
export async function jobOf(
  v: RunningVetted,
  name: string,
  version: string,
): Promise<{ attempts: number; outages?: number; lastError?: string } | undefined> {
  const jobs = (await v.api('/queue')).body.jobs as Array<{
    name: string;
    version: string;
    attempts: number;
    outages?: number;
    lastError?: string;
  }>;
  return jobs.find((j) => j.name === name && j.version === version);
}
