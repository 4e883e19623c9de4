/**
 * The parts of a packument vetted reads, typed loosely: upstream documents are untrusted input,
 * so every field is optional and checked where it is used.
 */
export interface PackumentVersion {
  name?: string;
  version?: string;
  dist?: { integrity?: string; shasum?: string; tarball?: string };
  scripts?: Record<string, unknown>;
  gypfile?: boolean;
  [field: string]: unknown;
}

export interface Packument {
  name?: string;
  versions?: Record<string, PackumentVersion>;
  'dist-tags'?: Record<string, string>;
  time?: Record<string, string>;
  [field: string]: unknown;
}
