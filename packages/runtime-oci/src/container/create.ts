/** CreateContainer: validation, user resolution from the image layers, and config.json; processes come at start. */
import { mkdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CriError, type Mount } from "@servin/cri-types";
import { atomicWriteFile } from "@servin/node-kit";
import type { BackendState, ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import type { ContainerState } from "../_container-state.js";
import { type OciContext, paths, runtimeFor } from "../_context.js";
import { hostCapabilities } from "../_host-caps.js";
import { readFileInLayers } from "../_layers.js";
import { requirePropagation } from "../_mounts.js";
import { resolveSeccomp } from "../_seccomp.js";
import { infraPid, sandboxState } from "../sandbox/_state.js";
import { buildContainerSpec, type ResolvedDevice } from "../spec/container-spec.js";
import type { JoinPaths } from "../spec/namespaces.js";
import { seccompProfileName } from "../spec/seccomp.js";
import { resolveUser } from "../spec/user.js";

/**
 * Does what containerd does at Create: everything that can fail for the
 * caller's input (image filesystem, seccomp profile, user, host paths and
 * their propagation, devices) and the spec, written into the bundle. The
 * container's processes (conmon, `runtime create`) and its rootfs mount come
 * at StartContainer: until then the container exists only as its record and
 * its bundle, so ContainerStatus, Stop and Remove of a created container cost
 * no runtime call. `signal` is checked between the steps; when it aborts, the
 * bundle goes and the cancellation error is thrown.
 */
export async function createContainer(
  ctx: OciContext,
  container: ContainerRecord,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<{ backendState: BackendState }> {
  const { id, config, image } = container;
  const name = config.metadata.name;
  const what = `create container "${name}"`;
  checkpoint(signal, what);
  if (image.layers.length === 0) {
    throw CriError.failedPrecondition(
      `container "${name}": image "${image.ref}" has no filesystem (no unpacked layers; the memory image backend cannot run real containers — use the disk image backend)`,
    );
  }
  const pod = sandboxState(ctx, sandbox);
  const runtime = runtimeFor(ctx, pod.runtime);
  // Reads only, side by side. Before anything is made: a bad or missing Localhost
  // profile, a gone infra, fail the create cleanly. The image's own /etc/passwd and
  // /etc/group come from its layers: the rootfs is mounted at start.
  const [seccomp, pid, passwd, group] = await Promise.all([
    resolveSeccomp(config.linux?.securityContext, `container "${name}"`),
    infraPid(ctx, sandbox),
    readFileInLayers(image.layers, "/etc/passwd"),
    readFileInLayers(image.layers, "/etc/group"),
  ]);

  const bundle = paths.bundle(ctx, id);
  const data = paths.containerData(ctx, id);
  const state: ContainerState = {
    version: 1,
    runtime: runtime.name,
    rootfsMode: "overlay",
    rootfs: join(bundle, "rootfs"),
    upper: join(data, "upper"),
    work: join(data, "work"),
    copyDir: join(data, "rootfs"),
    cgroupsPath: `${pod.cgroupParent}/${id}`,
    stopSignal: normaliseSignal(config.stopSignal || image.config.stopSignal || "SIGTERM"),
    uid: 0,
    gid: 0,
    additionalGids: [],
    seccomp: seccompProfileName(seccomp.choice),
  };

  const user = resolveUser({
    ...(config.linux?.securityContext ? { security: config.linux.securityContext } : {}),
    ...(image.config.user ? { imageUser: image.config.user } : {}),
    passwd: passwd ?? "",
    group: group ?? "",
    containerName: name,
  });
  state.uid = user.uid;
  state.gid = user.gid;
  state.additionalGids = user.additionalGids ?? [];

  const join_: JoinPaths = {};
  // The pinned netns when CNI networks the pod: the same namespace the infra is in.
  if (pod.modes.network === "pod") join_.network = pod.netns ?? `/proc/${pid}/ns/net`;
  if (pod.modes.ipc === "pod") join_.ipc = `/proc/${pid}/ns/ipc`;
  if (pod.modes.uts === "pod") join_.uts = `/proc/${pid}/ns/uts`;
  if (pod.modes.pid === "pod") join_.pid = `/proc/${pid}/ns/pid`;
  const nsOpts = config.linux?.securityContext?.namespaceOptions;
  if (nsOpts?.pid === "TARGET") {
    const target = nsOpts.targetId ? await runtime.state(nsOpts.targetId) : undefined;
    if (target && target.status === "running" && target.pid > 0)
      join_.targetPid = `/proc/${target.pid}/ns/pid`;
  }

  await prepareMounts(config.mounts ?? []);
  const devices = await resolveDevices(config.devices ?? [], name);

  const spec = buildContainerSpec({
    id,
    sandboxId: sandbox.id,
    config,
    image: image.config,
    rootfs: state.rootfs,
    user,
    podModes: pod.modes,
    join: join_,
    hostname: pod.hostname,
    podFiles: pod.files,
    shmPath: pod.shmPath,
    cgroupsPath: state.cgroupsPath,
    cgroupMode: ctx.cgroupMode,
    devices,
    nofile: ctx.nofile,
    ...(seccomp.localhost ? { localhostSeccomp: seccomp.localhost } : {}),
    hostCapabilities: await hostCapabilities(),
  });
  if (ctx.cgroupMode !== "v2" && Object.keys(config.linux?.resources?.unified ?? {}).length > 0) {
    ctx.logger.warn(`container "${name}": resources.unified ignored: this host has no pure cgroup v2`);
  }
  checkpoint(signal, what);
  try {
    await Promise.all([
      mkdir(bundle, { recursive: true }),
      container.logPath ? mkdir(dirname(container.logPath), { recursive: true }) : undefined,
    ]);
    // The bundle lives in the runtime state dir, gone with the container after a host crash: no fsync.
    await atomicWriteFile(join(bundle, "config.json"), JSON.stringify(spec), { mode: 0o644, sync: false });
    checkpoint(signal, what);
  } catch (err) {
    await rm(bundle, { recursive: true, force: true });
    throw err;
  }
  return { backendState: { ...state } };
}

/** "TERM", "15" or "SIGTERM" → "SIGTERM" (runc kill takes any; we store one form). */
export function normaliseSignal(sig: string): string {
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) return s;
  return s.startsWith("SIG") ? s : `SIG${s}`;
}

async function prepareMounts(mounts: Mount[]): Promise<void> {
  for (const m of mounts) {
    try {
      await stat(m.hostPath);
    } catch {
      // containerd creates a missing host path as a directory (kubelet relies on it for hostPath volumes).
      await mkdir(m.hostPath, { recursive: true });
    }
    if (m.propagation === "PROPAGATION_BIDIRECTIONAL") await requirePropagation(m.hostPath, "rshared");
    else if (m.propagation === "PROPAGATION_HOST_TO_CONTAINER")
      await requirePropagation(m.hostPath, "rslave");
  }
}

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
function major(rdev: number): number {
  return ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >> 12) & ~0xff);
}

async function resolveDevices(
  devices: { hostPath: string; containerPath: string; permissions: string }[],
  name: string,
): Promise<ResolvedDevice[]> {
  const out: ResolvedDevice[] = [];
  for (const d of devices) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(d.hostPath);
    } catch {
      throw CriError.invalidArgument(`container "${name}": device "${d.hostPath}" not found on the host`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) {
      throw CriError.invalidArgument(`container "${name}": "${d.hostPath}" is not a device node`);
    }
    out.push({
      type: st.isCharacterDevice() ? "c" : "b",
      path: d.containerPath || d.hostPath,
      major: major(st.rdev),
      minor: minor(st.rdev),
      fileMode: st.mode & 0o777,
      uid: st.uid,
      gid: st.gid,
      permissions: d.permissions || "rwm",
    });
  }
  return out;
}
