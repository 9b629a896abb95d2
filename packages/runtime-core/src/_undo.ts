/** Labelled undo steps for create paths (CRI-O's resourceCleaner): run in reverse when a create fails. */
import type { Logger } from "@servin/node-kit";

/**
 * Collects undo steps while a create path makes progress; `run()` executes
 * them newest first. A failing step is logged and the rest still run, so one
 * stuck resource never hides the others.
 *
 * @example
 * const undo = new UndoSteps(logger);
 * undo.add("runPodSandbox: releasing pod sandbox name", () => names.release(key));
 * try { ... } catch (err) { await undo.run(); throw err; }
 */
export class UndoSteps {
  readonly #steps: Array<{ label: string; fn: () => unknown }> = [];
  readonly #logger: Pick<Logger, "warn">;

  constructor(logger: Pick<Logger, "warn">) {
    this.#logger = logger;
  }

  add(label: string, fn: () => unknown): void {
    this.#steps.push({ label, fn });
  }

  /** Runs every step in reverse order; never throws. */
  async run(): Promise<void> {
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.fn();
      } catch (err) {
        this.#logger.warn(`undo step failed: ${step.label}`, err);
      }
    }
  }

  /** Forgets every step: the create succeeded. */
  clear(): void {
    this.#steps.length = 0;
  }
}
