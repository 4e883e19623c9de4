/**
 * The policy file's shape (YAML), validated with zod. A policy names a preset to start from and
 * may override what each kind of outcome and each finding code leads to.
 */
import { z } from 'zod';

/** What a result leads to: admit silently, admit with a recorded warning, hold for a person, reject. */
export const ACTIONS = ['admit', 'warn', 'hold', 'reject'] as const;
export type Action = (typeof ACTIONS)[number];

const action = z.enum(ACTIONS);

export const policyFileSchema = z
  .object({
    extends: z.enum(['standard', 'strict']).default('standard'),
    /** Layers whose result must be present; a missing one holds. */
    requiredLayers: z.array(z.string().min(1)).optional(),
    /** What a layer that could not run for a reason outside the package leads to. */
    unavailable: action.optional(),
    /** What a layer that broke while running leads to. */
    error: action.optional(),
    /** What a failing layer leads to, for findings without their own rule. */
    fail: action.optional(),
    /**
     * What each package's purpose explains in the behaviour sandbox, by package name: programs
     * it may spawn, network use, paths outside its directory it may write, native builds. What
     * is allowed is reported at `info`; everything else stays strict.
     */
    behaviour: z
      .record(
        z.string().min(1),
        z
          .object({
            allowSpawn: z.array(z.string().min(1)).optional(),
            allowNetwork: z.boolean().optional(),
            allowWrite: z.array(z.string().min(1)).optional(),
            nativeBuild: z.union([z.literal('auto'), z.boolean()]).optional(),
          })
          .strict(),
      )
      .optional(),
    /** Rules by finding code; they win over the outcome rules. */
    findings: z
      .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'finding codes are SCREAMING_SNAKE'), action)
      .optional(),
  })
  .strict();

export type PolicyFile = z.infer<typeof policyFileSchema>;

export interface BehaviourAllowance {
  allowSpawn?: string[];
  allowNetwork?: boolean;
  allowWrite?: string[];
  nativeBuild?: 'auto' | boolean;
}

export interface Policy {
  preset: 'standard' | 'strict';
  requiredLayers: string[];
  unavailable: Action;
  error: Action;
  fail: Action;
  findings: Record<string, Action>;
  /** Behaviour expectations by package name (see the file schema). */
  behaviour: Record<string, BehaviourAllowance>;
  /** sha256 of the canonical JSON of the resolved policy, recorded on each verdict. */
  digest: string;
  /** Where it came from: a preset name or a file path. */
  source: string;
}
