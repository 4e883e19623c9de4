/**
 * What a run was measured on, for the header and the JSON summary: commit, Node, wrk, CPUs and
 * the load average when the run started.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from './settings';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** What the numbers were measured on. */
export function describeEnvironment(settings: Settings, wrk: string | undefined) {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    date: new Date().toISOString(),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedChanges: (git('status', '--porcelain') ?? '') !== '',
    node: process.version,
    wrk,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
    settings,
  };
}

export type Environment = ReturnType<typeof describeEnvironment>;
