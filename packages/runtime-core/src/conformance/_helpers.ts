/** Small helpers for the conformance suite: configs, error expectations, waiting without timed assertions. */
import { randomBytes } from "node:crypto";
import type {
  ContainerConfig,
  ContainerEventResponse,
  ContainerStatus,
  CriErrorCode,
  PodSandboxConfig,
  RuntimeService,
  StringMap,
} from "@servin/cri-types";
import { expect } from "vitest";

export const SUITE_LABEL = "servin.conformance/run";
export const TEST_LABEL = "servin.conformance/test";

export function randomHex(bytes = 32): string {
  return randomBytes(bytes).toString("hex");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asserts that `work` rejects with a CriError-like `code` (and optionally a message fragment). */
export async function expectCode(
  work: Promise<unknown>,
  code: CriErrorCode,
  messageIncludes?: string,
): Promise<Error> {
  let error: unknown;
  try {
    await work;
  } catch (err) {
    error = err;
  }
  expect(error, `expected a ${code} error`).toBeDefined();
  expect(error).toMatchObject({ code });
  if (messageIncludes !== undefined) expect((error as Error).message).toContain(messageIncludes);
  return error as Error;
}

/**
 * Waits until `check` returns a value (not undefined). The runtime never
 * polls; a test of something that happens by itself has to wait for it.
 * No deadline here: the test's own timeout bounds it.
 */
export async function eventually<T>(check: () => Promise<T | undefined>, pauseMs = 25): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(pauseMs);
  }
}

export async function waitForContainerState(
  runtime: RuntimeService,
  containerId: string,
  state: ContainerStatus["state"],
): Promise<ContainerStatus> {
  return eventually(async () => {
    const { status } = await runtime.containerStatus({ containerId });
    return status.state === state ? status : undefined;
  });
}

export interface ConfigFactory {
  pod(name: string, extra?: { labels?: StringMap; attempt?: number; uid?: string }): PodSandboxConfig;
  container(
    name: string,
    argv: string[],
    extra?: { labels?: StringMap; attempt?: number; logPath?: string },
  ): ContainerConfig;
}

export function configFactory(
  runId: string,
  testId: () => string,
  image: string,
  logDirectory?: string,
): ConfigFactory {
  return {
    pod(name, extra = {}) {
      return {
        metadata: {
          name,
          namespace: "servin-conformance",
          uid: extra.uid ?? randomHex(8),
          attempt: extra.attempt ?? 0,
        },
        hostname: name,
        ...(logDirectory ? { logDirectory: `${logDirectory}/${runId}-${name}` } : {}),
        labels: { [SUITE_LABEL]: runId, [TEST_LABEL]: testId(), ...extra.labels },
        annotations: { "servin.conformance/purpose": "test" },
      };
    },
    container(name, argv, extra = {}) {
      return {
        metadata: { name, attempt: extra.attempt ?? 0 },
        image: { image },
        command: argv.slice(0, 1),
        args: argv.slice(1),
        labels: { [SUITE_LABEL]: runId, [TEST_LABEL]: testId(), ...extra.labels },
        ...(extra.logPath ? { logPath: extra.logPath } : {}),
      };
    },
  };
}

/** Collects GetContainerEvents into an array until `stop()`; `ready` resolves once a probe proved delivery. */
export interface EventCollector {
  events: ContainerEventResponse[];
  stop(): Promise<void>;
}

export function collectEvents(runtime: RuntimeService): EventCollector {
  const controller = new AbortController();
  const events: ContainerEventResponse[] = [];
  const stream = runtime.getContainerEvents({}, { signal: controller.signal });
  const done = (async () => {
    try {
      for await (const e of stream) events.push(e);
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  return {
    events,
    async stop() {
      controller.abort();
      await done;
    },
  };
}
