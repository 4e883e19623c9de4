/**
 * What the metadata filter tells the middleware about one request. Verdaccio strips unknown
 * top-level fields after `filter_metadata` and skips a filter that throws, so the filter reports
 * its result (or its failure) here, on the request's async context, and the middleware that
 * finishes the document reads it. A request without a report is answered 503.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SteerResult } from './steer';

export interface MetadataContext {
  steered?: SteerResult;
  /** Why the filter failed; the response is then 503. */
  failed?: string;
}

export const metadataContext = new AsyncLocalStorage<MetadataContext>();
