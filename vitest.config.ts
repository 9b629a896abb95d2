import { defineConfig } from "vitest/config";

// One vitest run for the whole monorepo. Workspace packages resolve to their
// TypeScript sources through the "source" export condition, so tests never
// depend on a stale dist/.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    globalSetup: ["tooling/vitest.require-real.ts"],
    reporters: ["default", "./tooling/vitest-summary.ts"],
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
      "tooling/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
