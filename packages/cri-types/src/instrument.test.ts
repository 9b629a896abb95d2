import { describe, expect, it } from "vitest";
import { CriError, isCriError } from "./errors.js";
import { type CallObservation, InFlight, instrument, wasReported } from "./instrument.js";
import type { CallOptions } from "./services.js";

function recorder() {
  const lines: { level: "debug" | "error"; message: string; args: unknown[] }[] = [];
  const seen: CallObservation[] = [];
  return {
    lines,
    seen,
    logger: {
      debug: (message: string, ...args: unknown[]) => lines.push({ level: "debug", message, args }),
      error: (message: string, ...args: unknown[]) => lines.push({ level: "error", message, args }),
    },
    observe: (o: CallObservation) => seen.push(o),
  };
}

function service(closed: { value: boolean }, r: ReturnType<typeof recorder>) {
  return instrument(
    "runtime",
    {
      version: async (_req: { version?: string }, _opts?: CallOptions) => ({ version: "0.1.0" }),
      status: async (_req: object, _opts?: CallOptions): Promise<never> => {
        throw new TypeError("cannot read properties of undefined (reading 'pid')");
      },
      stopContainer: async (req: { containerId: string }, _opts?: CallOptions): Promise<never> => {
        throw CriError.notFound(`container "${req.containerId}" not found`);
      },
      getContainerEvents: (_req: object, _opts?: CallOptions): AsyncIterable<number> =>
        (async function* () {
          yield 1;
        })(),
    },
    { isClosed: () => closed.value, logger: r.logger, observe: r.observe, streams: ["getContainerEvents"] },
  );
}

describe("instrument", () => {
  it("answers Unavailable once closed: a rejection for unary RPCs, a throw for streams", async () => {
    const r = recorder();
    const closed = { value: false };
    const s = service(closed, r);
    expect(await s.version({})).toEqual({ version: "0.1.0" });
    closed.value = true;
    await expect(s.version({})).rejects.toMatchObject({
      code: "Unavailable",
      message: "version: the runtime service is closed",
    });
    expect(() => s.getContainerEvents({})).toThrow(expect.objectContaining({ code: "Unavailable" }));
    expect(r.seen.map((o) => o.code)).toEqual(["OK", "Unavailable", "Unavailable"]);
  });

  it("maps a thrown Error to Internal, logs its stack once, and keeps the stack out of the error", async () => {
    const r = recorder();
    const s = service({ value: false }, r);
    const err = await s.status({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CriError);
    expect(err).toMatchObject({ code: "Internal", message: expect.stringContaining("status: ") });
    const cri = err as CriError;
    // What a transport serialises: code, message, details; none carries a stack frame.
    expect(JSON.stringify({ code: cri.code, message: cri.message, details: cri.details })).not.toMatch(
      /\bat .*\.(ts|js):\d+/,
    );
    expect(Object.keys(cri)).not.toContain("cause");
    const errors = r.lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe("runtime.status failed");
    expect((errors[0]!.args[0] as Error).stack).toMatch(/TypeError: cannot read/);
    expect(wasReported(err)).toBe(true);
  });

  it("passes CriErrors through unchanged and does not log them as faults", async () => {
    const r = recorder();
    const s = service({ value: false }, r);
    await expect(s.stopContainer({ containerId: "3f2a" })).rejects.toMatchObject({
      code: "NotFound",
      message: 'container "3f2a" not found',
    });
    expect(r.lines.filter((l) => l.level === "error")).toEqual([]);
  });

  it("observes each call once with the transport of its options and logs one debug line", async () => {
    const r = recorder();
    const s = service({ value: false }, r);
    await s.version({}, { transport: "grpc" });
    await s.version({}, { transport: "http" });
    await s.version({});
    await s.stopContainer({ containerId: "x" }, { transport: "grpc" }).catch(() => undefined);
    const stream = s.getContainerEvents({}, { transport: "http" });
    for await (const _ of stream);
    expect(r.seen.map(({ service, rpc, transport, code }) => [service, rpc, transport, code])).toEqual([
      ["runtime", "version", "grpc", "OK"],
      ["runtime", "version", "http", "OK"],
      ["runtime", "version", "in-process", "OK"],
      ["runtime", "stopContainer", "grpc", "NotFound"],
      ["runtime", "getContainerEvents", "http", "OK"],
    ]);
    for (const o of r.seen) expect(o.durationMs).toBeGreaterThanOrEqual(0);
    const debug = r.lines.filter((l) => l.level === "debug").map((l) => l.message);
    expect(debug).toHaveLength(5);
    expect(debug[0]).toMatch(/^runtime\.version OK \d+\.\d+ms \(grpc\)$/);
    expect(debug[3]).toMatch(/^runtime\.stopContainer NotFound .*\(grpc\): container "x" not found$/);
  });

  it("never fails a call because the observer threw", async () => {
    const r = recorder();
    const s = instrument(
      "image",
      { listImages: async (_req: object, _opts?: CallOptions) => ({ images: [] }) },
      {
        isClosed: () => false,
        logger: r.logger,
        observe: () => {
          throw new Error("metrics registry broke");
        },
      },
    );
    expect(await s.listImages({})).toEqual({ images: [] });
    expect(r.lines.some((l) => l.level === "error" && l.message.includes("call observer failed"))).toBe(true);
  });
});

describe("instrument's cheap path", () => {
  it("builds no debug line for a logger that says it drops debug, and one for a logger that writes it", async () => {
    for (const writes of [false, true]) {
      const r = recorder();
      const s = instrument(
        "image",
        { listImages: async (_req: object, _opts?: CallOptions) => ({ images: [] }) },
        { isClosed: () => false, logger: { ...r.logger, enabled: (level) => writes || level !== "debug" } },
      );
      await s.listImages({});
      expect(r.lines.filter((l) => l.level === "debug")).toHaveLength(writes ? 1 : 0);
    }
  });

  it("counts each call in its InFlight until it settles, failed ones too, and leaves out the untracked", async () => {
    const calls = new InFlight();
    const gates: Record<string, () => void> = {};
    const held = (name: string, fail = false) =>
      new Promise<{ name: string }>((resolve, reject) => {
        gates[name] = () => (fail ? reject(CriError.notFound(name)) : resolve({ name }));
      });
    const s = instrument(
      "runtime",
      {
        version: (_req: object, _opts?: CallOptions) => held("version"),
        stopContainer: (_req: object, _opts?: CallOptions) => held("stop", true),
        execSync: (_req: object, _opts?: CallOptions) => held("exec"),
      },
      { isClosed: () => false, inFlight: calls, untracked: ["execSync"] },
    );
    const version = s.version({});
    const stop = s.stopContainer({}).catch((err: unknown) => err);
    const exec = s.execSync({});
    expect(calls.size).toBe(2);
    let drained = false;
    const drain = calls.drain().then(() => {
      drained = true;
    });
    gates.version?.();
    await version;
    expect(calls.size).toBe(1);
    expect(drained).toBe(false);
    gates.stop?.();
    expect(isCriError(await stop)).toBe(true);
    await drain;
    expect(calls.size).toBe(0);
    gates.exec?.();
    await exec;
    expect(calls.size).toBe(0);
  });

  it("InFlight counts from enter() to leave(), wakes drain() at the last leave(), and refuses an unmatched leave()", async () => {
    const calls = new InFlight();
    calls.enter();
    calls.enter();
    expect(calls.size).toBe(2);
    let drained = false;
    const drain = calls.drain().then(() => {
      drained = true;
    });
    calls.leave();
    await Promise.resolve();
    expect(drained).toBe(false);
    calls.leave();
    await drain;
    expect(calls.size).toBe(0);
    expect(() => calls.leave()).toThrow(/without a matching enter/);
  });
});
