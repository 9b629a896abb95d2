import type { ContainerEventResponse } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { recordingLogger } from "../_test-harness.js";
import { EventHub } from "./hub.js";

const event = (n: number): ContainerEventResponse => ({
  containerId: String(n),
  containerEventType: "CONTAINER_CREATED_EVENT",
  createdAt: BigInt(n),
  containersStatuses: [],
});

async function drain(
  stream: AsyncIterable<ContainerEventResponse>,
): Promise<{ ids: string[]; error?: unknown }> {
  const ids: string[] = [];
  try {
    for await (const e of stream) ids.push(e.containerId);
  } catch (error) {
    return { ids, error };
  }
  return { ids };
}

describe("EventHub", () => {
  it("delivers every event to every subscriber, from the moment of subscribing", async () => {
    const hub = new EventHub(recordingLogger());
    hub.publish(event(0)); // before anyone subscribed: nobody gets it
    const controller = new AbortController();
    const one = hub.subscribe(controller.signal);
    const two = hub.subscribe(controller.signal);
    for (let i = 1; i <= 3; i++) hub.publish(event(i));
    controller.abort();
    expect((await drain(one)).ids).toEqual(["1", "2", "3"]);
    expect((await drain(two)).ids).toEqual(["1", "2", "3"]);
    expect(hub.subscriberCount).toBe(0);
  });

  it("wakes a waiting consumer", async () => {
    const hub = new EventHub(recordingLogger());
    const iterator = hub.subscribe()[Symbol.asyncIterator]();
    const next = iterator.next();
    hub.publish(event(1));
    expect((await next).value?.containerId).toBe("1");
    await iterator.return?.();
    expect(hub.subscriberCount).toBe(0);
  });

  it("drops a subscriber that falls a full buffer behind, with a warning and ResourceExhausted", async () => {
    const logger = recordingLogger();
    const hub = new EventHub(logger, 3);
    const slow = hub.subscribe();
    const fastController = new AbortController();
    const fast = hub.subscribe(fastController.signal);
    const fastIds = drain(fast);
    for (let i = 1; i <= 5; i++) {
      hub.publish(event(i));
      await new Promise((r) => setImmediate(r)); // the fast consumer keeps up, the slow one never reads
    }
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain("too slow");
    expect(hub.subscriberCount).toBe(1);
    const result = await drain(slow);
    expect(result.ids).toEqual(["1", "2", "3"]);
    expect(result.error).toMatchObject({ code: "ResourceExhausted" });
    fastController.abort();
    expect((await fastIds).ids).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("an already aborted signal yields an empty stream; close() ends every stream", async () => {
    const hub = new EventHub(recordingLogger());
    expect((await drain(hub.subscribe(AbortSignal.abort()))).ids).toEqual([]);
    const open = hub.subscribe();
    hub.publish(event(1));
    hub.close();
    expect((await drain(open)).ids).toEqual(["1"]);
  });
});
