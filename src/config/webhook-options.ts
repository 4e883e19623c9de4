/**
 * The `webhook` option group of `middlewares.vetted`: where vetted posts its notifications and
 * how they are signed. Kept apart from options.ts so the group reads as one piece.
 */
import { z } from 'zod';

export const WEBHOOK_EVENTS = ['held', 'rejected', 'revoked', 'integrity'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const webhookSchema = z
  .object({
    /** Receives a JSON POST per event. */
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'the webhook must be an http:// or https:// URL'),
    /** When set, each delivery carries `x-vetted-signature: sha256=<hex HMAC of the body>`. */
    secret: z.string().min(16, 'use a secret of at least 16 characters').optional(),
    /** Which events are sent. Default: all of held, rejected, revoked, integrity. */
    events: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1)
      .default([...WEBHOOK_EVENTS]),
    /** The registry's public URL, for links to the console (`https://npm.example.com`). */
    publicUrl: z.string().url().optional(),
  })
  .strict();

export interface WebhookOptions {
  url: string;
  secret?: string;
  events: readonly WebhookEvent[];
  publicUrl?: string;
}
