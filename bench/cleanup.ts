/**
 * Undo steps for the benchmark's processes and temp dirs, run last-in first-out once, whether
 * the run ends normally, throws, or is interrupted.
 */

export type UndoFn = () => Promise<void> | void;

export class Cleanup {
  readonly #steps: Array<{ what: string; undo: UndoFn }> = [];
  #running: Promise<string[]> | undefined;

  /** Registers an undo step; `what` names it in failure messages. */
  add(what: string, undo: UndoFn): void {
    this.#steps.push({ what, undo });
  }

  /**
   * Runs every step, newest first, even when one fails. Idempotent.
   * @returns messages for the steps that failed.
   */
  run(): Promise<string[]> {
    this.#running ??= this.#runAll();
    return this.#running;
  }

  async #runAll(): Promise<string[]> {
    const failures: string[] = [];
    for (const { what, undo } of this.#steps.reverse()) {
      try {
        await undo();
      } catch (err) {
        failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}
