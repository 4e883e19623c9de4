/**
 * Wires the publisher layer from vetted's options: registry keys from the upstream with the
 * configured file as fallback, the provenance verifier over the shipped or configured trusted
 * root, dependency lookups through the upstream client, and the high-impact list (loaded once,
 * on first use) for typosquats and for describing new dependencies.
 */
import type { IdentityOptions } from '../../config/identity-options';
import type { Layer } from '../layer';
import { createKeySource } from '../identity/signatures';
import { createProvenanceVerifier } from '../identity/provenance';
import { createDependencyLookup } from '../identity/dependencies';
import type { PackumentFn } from '../identity/dependencies';
import { createTyposquatCheck, loadHighImpact } from '../identity/typosquat';
import { createPublisherLayer } from './publisher';

export interface PublisherSetup {
  /** Upstream registry base URL, with a trailing slash. */
  registry: string;
  identity: IdentityOptions;
  /** Reads a dependency's packument from the upstream. */
  packument: PackumentFn;
}

/** @example createPublisherLayerFor({ registry, identity: options.identity, packument }) */
export function createPublisherLayerFor(setup: PublisherSetup): Layer {
  let list: Promise<string[]> | undefined;
  const ranked = () => (list ??= loadHighImpact());
  const typosquat = setup.identity.typosquat;
  const registry = setup.registry.endsWith('/') ? setup.registry : `${setup.registry}/`;
  return createPublisherLayer({
    registry,
    keys: createKeySource({ registry, fallbackFile: setup.identity.keys }),
    provenance: createProvenanceVerifier({ trustedRootFile: setup.identity.trustedRoot }),
    dependencies: createDependencyLookup(setup.packument),
    ...(typosquat.enabled
      ? { typosquat: once(async () => createTyposquatCheck(await ranked(), typosquat)) }
      : {}),
    isHighImpact: once(async () => {
      const names = new Set(await ranked());
      return (name: string) => names.has(name);
    }),
  });
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= fn());
}
