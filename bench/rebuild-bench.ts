/**
 * The `rebuild` part (`BENCH_ONLY=rebuild`): how long the source integrity layer takes per
 * package on the test fixtures. An upstream Verdaccio gets three honest packages published
 * by npm from local git repositories (pure JS, a TypeScript build with `prepare: tsc` and
 * typescript as a dev dependency, a workspace of a monorepo tagged `name@version`), their
 * repositories pushed to a directory mapped from `https://github.com/acme/`. The layer runs
 * on each `rounds` times, one at a time: the first run clones (cold), later ones reuse the
 * clone and the npm cache. Reports median and p90 of the whole layer and of its install and
 * pack (build) steps, per package. Depends on the test helpers.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSourceLayer } from '../src/verify/layers/source-integrity';
import { createGitPackage } from '../test/helpers/fixtures';
import { createUser, startVerdaccio } from '../test/helpers/verdaccio';
import {
  git,
  inputFrom,
  publishWith,
  publishWithoutGit,
  pushToHost,
  tag,
} from '../test/helpers/source-repos';
import { percentile } from './stats';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface RebuildTiming {
  name: string;
  outcome: string;
  runs: Array<{ totalMs: number; installMs?: number; packMs?: number; fetchMs?: number }>;
}

export interface RebuildBenchResult {
  rounds: number;
  packages: Array<{
    name: string;
    outcome: string;
    cloneMs: number;
    median: number;
    p90: number;
    buildMedian?: number;
    installMedian?: number;
  }>;
  all: { median: number; p90: number; max: number };
}

export async function runRebuildBench(
  dir: string,
  opts: { rounds: number; progress: (line: string) => void },
): Promise<RebuildBenchResult> {
  const upstream = await startVerdaccio({ dir: path.join(dir, 'upstream') });
  try {
    const token = await createUser(upstream.url, 'bench', 'bench-password-1');
    const hostRoot = path.join(dir, 'githost');
    const repos = path.join(dir, 'repos');
    opts.progress('rebuild: publishing the fixtures');
    await publishWith(path.join(REPO_ROOT, 'node_modules', 'typescript'), upstream.url, token, [
      '--ignore-scripts',
    ]);
    const plain = await createGitPackage(repos, {
      name: 'bench-src-plain',
      version: '1.0.0',
      packageJson: { repository: 'github:acme/bench-src-plain' },
      files: {
        'index.js': "module.exports = require('./lib/a');\n",
        'lib/a.js': 'module.exports = 1;\n',
      },
    });
    await tag(plain, 'v1.0.0');
    await publishWith(plain, upstream.url, token);
    await pushToHost(plain, hostRoot, 'bench-src-plain');

    const ts = await createGitPackage(repos, {
      name: 'bench-src-ts',
      version: '1.0.0',
      packageJson: {
        repository: 'github:acme/bench-src-ts',
        main: 'dist/index.js',
        files: ['dist'],
        scripts: { prepare: 'tsc' },
        devDependencies: { typescript: '5.9.3' },
      },
      files: {
        '.gitignore': 'node_modules\ndist\n',
        'tsconfig.json': JSON.stringify({
          compilerOptions: { outDir: 'dist', declaration: true, module: 'commonjs' },
          include: ['src'],
        }),
        'src/index.ts': 'export const add = (a: number, b: number): number => a + b;\n',
      },
    });
    await mkdir(path.join(ts, 'node_modules', '.bin'), { recursive: true });
    await symlink(
      path.join(REPO_ROOT, 'node_modules', 'typescript'),
      path.join(ts, 'node_modules', 'typescript'),
    );
    await symlink('../typescript/bin/tsc', path.join(ts, 'node_modules', '.bin', 'tsc'));
    await publishWith(ts, upstream.url, token);
    await pushToHost(ts, hostRoot, 'bench-src-ts');

    const mono = path.join(repos, 'bench-mono');
    const pkgDir = path.join(mono, 'packages', 'bench-mono-a');
    await mkdir(pkgDir, { recursive: true });
    await writeFile(
      path.join(mono, 'package.json'),
      JSON.stringify({ name: 'bench-mono', private: true, workspaces: ['packages/*'] }),
    );
    await writeFile(
      path.join(pkgDir, 'package.json'),
      JSON.stringify({
        name: 'bench-mono-a',
        version: '1.0.0',
        main: 'index.js',
        repository: {
          url: 'https://github.com/acme/bench-mono.git',
          directory: 'packages/bench-mono-a',
        },
      }),
    );
    await writeFile(path.join(pkgDir, 'index.js'), 'module.exports = 2;\n');
    await git(mono, 'init', '--quiet', '--initial-branch=main');
    await git(mono, 'add', '--all');
    const who = ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.invalid'];
    await git(mono, ...who, 'commit', '--quiet', '-m', '1.0.0');
    await git(mono, ...who, 'tag', '-a', 'bench-mono-a@1.0.0', '-m', '1.0.0');
    await publishWithoutGit(pkgDir, upstream.url, token);
    await pushToHost(mono, hostRoot, 'bench-mono');

    const layer = createSourceLayer({
      upstream: upstream.url,
      root: path.join(dir, 'sources'),
      mirrors: [{ from: 'https://github.com/acme/', to: `file://${hostRoot}/acme/` }],
    });
    const timings: RebuildTiming[] = [];
    for (const name of ['bench-src-plain', 'bench-src-ts', 'bench-mono-a']) {
      const input = await inputFrom(upstream.url, name, '1.0.0');
      const timing: RebuildTiming = { name, outcome: '', runs: [] };
      for (let round = 0; round < opts.rounds; round++) {
        const started = performance.now();
        const result = await layer.run(input);
        const t = result.summary?.timings ?? {};
        timing.outcome = result.outcome;
        timing.runs.push({
          totalMs: Math.round(performance.now() - started),
          installMs: t.installMs,
          packMs: t.packMs,
          fetchMs: t.fetchMs,
        });
      }
      opts.progress(
        `rebuild: ${name} ${timing.outcome}, ${timing.runs.map((r) => r.totalMs).join(' ')} ms`,
      );
      timings.push(timing);
    }
    return summariseRebuild(timings, opts.rounds);
  } finally {
    await upstream.stop();
  }
}

function summariseRebuild(timings: RebuildTiming[], rounds: number): RebuildBenchResult {
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const warm = (t: RebuildTiming) => (t.runs.length > 1 ? t.runs.slice(1) : t.runs);
  const packages = timings.map((t) => {
    const totals = sorted(warm(t).map((r) => r.totalMs));
    const builds = sorted(warm(t).flatMap((r) => (r.packMs === undefined ? [] : [r.packMs])));
    const installs = sorted(
      warm(t).flatMap((r) => (r.installMs === undefined ? [] : [r.installMs])),
    );
    return {
      name: t.name,
      outcome: t.outcome,
      cloneMs: t.runs[0]?.totalMs ?? 0,
      median: percentile(totals, 50),
      p90: percentile(totals, 90),
      ...(builds.length ? { buildMedian: percentile(builds, 50) } : {}),
      ...(installs.length ? { installMedian: percentile(installs, 50) } : {}),
    };
  });
  const all = sorted(timings.flatMap((t) => warm(t).map((r) => r.totalMs)));
  return {
    rounds,
    packages,
    all: { median: percentile(all, 50), p90: percentile(all, 90), max: all[all.length - 1] ?? 0 },
  };
}

export function formatRebuild(r: RebuildBenchResult): string[] {
  const lines = [
    `Source rebuild per package (${r.rounds} runs each; first run clones, median/p90 over the rest):`,
    '| package | outcome | first run ms | median ms | p90 ms | build (pack) median ms | install median ms |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const p of r.packages) {
    lines.push(
      `| ${p.name} | ${p.outcome} | ${p.cloneMs} | ${p.median} | ${p.p90} | ${p.buildMedian ?? '-'} | ${p.installMedian ?? '-'} |`,
    );
  }
  lines.push(`all packages: median ${r.all.median} ms, p90 ${r.all.p90} ms, max ${r.all.max} ms`);
  return lines;
}
