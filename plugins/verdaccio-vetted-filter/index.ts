/**
 * vetted's Verdaccio metadata filter plugin: a thin adapter over src/metadata/filter.ts. It
 * reaches the engine the vetted middleware plugin started through src/vetted.ts (same process).
 * `filter_metadata` never throws: a throwing filter is skipped by Verdaccio (fails open).
 */
import { currentInstance } from '../../src/vetted';
import { filterMetadata } from '../../src/metadata/filter';
import type { Packument } from '../../src/metadata/steer';
import type { Logger } from '../../src/log/logger';
import { childLogger } from '../../src/log/logger';

export default class VettedFilter {
  readonly #logger: Logger;

  constructor(_merged: unknown, plugin: { logger: Logger }) {
    this.#logger = childLogger(plugin.logger, { component: 'vetted-filter' });
  }

  filter_metadata(doc: Packument): Promise<Packument> {
    const notReady = 'its engine has not started (see the vetted log)';
    return filterMetadata(doc, currentInstance(), notReady, this.#logger);
  }
}
