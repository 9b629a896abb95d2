/**
 * A vitest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`,
 * the closing line CI reads in any language (vitest's own summary is decorated).
 */
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest";

function count(tasks: RunnerTask[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === "suite") {
      count(task.tasks, totals);
      continue;
    }
    const state = task.result?.state;
    if (state === "pass") totals.passed++;
    else if (state === "fail") totals.failed++;
    else totals.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    // A file that failed to load, or an unhandled error, is a failure even without a failed test.
    const broken =
      files.filter((f) => f.result?.state === "fail" && f.tasks.length === 0).length + errors.length;
    totals.failed += broken;
    process.stdout.write(
      `\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`,
    );
  }
}
