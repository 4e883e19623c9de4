/**
 * The tree as a CycloneDX 1.6 JSON SBOM (@cyclonedx/cyclonedx-library): one component per node
 * with its purl and published hash, the dependency graph, and vetted's verdict on each node as
 * `vetted:*` properties (status, reasons, who decided and when, advisories).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import ssri from 'ssri';
import type { DependencyGraph } from './graph';
import { ROOT } from './graph';
import type { NodeResult } from './status';

export function purlOf(name: string, version: string): string {
  const encoded = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return `pkg:npm/${encoded}@${encodeURIComponent(version)}`;
}

/** The project's own name and version, from the package.json beside the lockfile. */
function projectManifest(graph: DependencyGraph): { name?: string; version?: string } {
  const dir =
    graph.source === 'node_modules' ? dirname(graph.path) : dirname(graph.lockfile ?? graph.path);
  try {
    const parsed = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    return {
      ...(typeof parsed.name === 'string' ? { name: parsed.name } : {}),
      ...(typeof parsed.version === 'string' ? { version: parsed.version } : {}),
    };
  } catch {
    return {};
  }
}

export function buildSbom(
  graph: DependencyGraph,
  results: NodeResult[],
  meta: { registry: string; generatedAt: Date },
): string {
  const bom = new CDX.Models.Bom();
  bom.metadata.timestamp = meta.generatedAt;
  bom.metadata.tools.components.add(
    new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'vetted'),
  );
  const manifest = projectManifest(graph);
  const project = new CDX.Models.Component(
    CDX.Enums.ComponentType.Application,
    manifest.name ?? basename(dirname(graph.lockfile ?? graph.path)),
    { bomRef: 'project', ...(manifest.version ? { version: manifest.version } : {}) },
  );
  bom.metadata.component = project;
  bom.metadata.properties.add(new CDX.Models.Property('vetted:registry', meta.registry));
  bom.metadata.properties.add(new CDX.Models.Property('vetted:tree-source', graph.source));

  const byKey = new Map(results.map((r) => [`${r.name}@${r.version}`, r]));
  const components = new Map<string, CDX.Models.Component>();
  for (const node of graph.nodes.values()) {
    const scoped = node.name.startsWith('@');
    const slash = node.name.indexOf('/');
    const component = new CDX.Models.Component(
      CDX.Enums.ComponentType.Library,
      scoped ? node.name.slice(slash + 1) : node.name,
      {
        version: node.version,
        bomRef: node.key,
        purl: purlOf(node.name, node.version),
        ...(scoped ? { group: node.name.slice(0, slash) } : {}),
        ...(node.dev ? { scope: CDX.Enums.ComponentScope.Optional } : {}),
      },
    );
    const integrity = byKey.get(node.key)?.integrity ?? node.integrity;
    for (const hash of integrity ? Object.values(ssri.parse(integrity)).flat() : []) {
      const algorithm = { sha512: 'SHA-512', sha384: 'SHA-384', sha256: 'SHA-256', sha1: 'SHA-1' }[
        hash.algorithm
      ];
      if (algorithm) {
        component.hashes.set(
          algorithm as CDX.Enums.HashAlgorithm,
          Buffer.from(hash.digest, 'base64').toString('hex'),
        );
      }
    }
    const result = byKey.get(node.key);
    const props: Array<[string, string | undefined]> = [
      ['vetted:status', result?.status ?? 'unknown'],
      ['vetted:decided-by', result?.decidedBy],
      ['vetted:decided-at', result?.decidedAt],
      ...(result?.reasons ?? []).map((r): [string, string] => ['vetted:reason', r]),
      ...(result?.warnings ?? []).map((r): [string, string] => ['vetted:warning', r]),
      ...(result?.advisories ?? []).map((a): [string, string] => [
        'vetted:advisory',
        `${a.id}${a.malicious ? ' (malicious)' : ''}: ${a.summary}`,
      ]),
    ];
    for (const [key, value] of props) {
      if (value) component.properties.add(new CDX.Models.Property(key, value));
    }
    components.set(node.key, component);
    bom.components.add(component);
  }
  for (const edge of graph.edges) {
    const to = components.get(edge.to);
    if (!to) continue;
    const from = edge.from === ROOT ? project : components.get(edge.from);
    from?.dependencies.add(to.bomRef);
  }
  const serializer = new CDX.Serialize.JsonSerializer(
    new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6),
  );
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}
