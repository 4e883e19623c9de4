/**
 * One error family for everything vetted itself throws. Codes are grouped by area; an upstream
 * code (EINTEGRITY, LEVEL_LOCKED, E404) stays on `cause`, never renamed.
 */

export type VettedErrorCode =
  | 'CONFIG_INVALID'
  | 'POLICY_INVALID'
  | 'INDEX_UNAVAILABLE'
  | 'INDEX_LOCKED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_NOT_FOUND'
  | 'SPEC_INVALID'
  | 'NOT_FOUND'
  | 'AUTH_REQUIRED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'JOB_TIMEOUT'
  | 'LAYER_INTERRUPTED'
  | 'TREE_UNREADABLE'
  | 'ATTESTATION_INVALID';

export class VettedError extends Error {
  readonly code: VettedErrorCode;
  readonly context: Record<string, unknown>;

  constructor(
    code: VettedErrorCode,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VettedError';
    this.code = code;
    this.context = options.context ?? {};
  }
}

export function isVettedError(err: unknown, code?: VettedErrorCode): err is VettedError {
  return err instanceof VettedError && (code === undefined || err.code === code);
}

/** The `code` of any error-like value, for errors thrown by libraries. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
