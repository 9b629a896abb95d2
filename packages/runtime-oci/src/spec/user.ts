/** Resolves who a container runs as: CRI run_as_* or the image's User, through the rootfs's /etc/passwd and /etc/group. */
import { CriError, type LinuxContainerSecurityContext } from "@servin/cri-types";
import type { OciUser } from "./types.js";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Parses /etc/passwd text; malformed lines are skipped (as libc does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0] ?? "", uid, gid, home: f[5] ?? "/" });
  }
  return out;
}

/** Parses /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    const members = (f[3] ?? "").split(",").filter((m) => m !== "");
    out.push({ name: f[0] ?? "", gid, members });
  }
  return out;
}

const NUMERIC = /^\d+$/;

/**
 * The process user. Precedence (as containerd): run_as_user (uid) or
 * run_as_username, else the image's `User` ("uid", "name", "uid:gid",
 * "name:group"); run_as_group overrides the group. A uid found in passwd
 * takes its primary gid; supplemental groups are the groups listing the user
 * by name, plus security_context.supplemental_groups.
 *
 * @example
 * resolveUser({ imageUser: "app", passwd: "app:x:1000:1000::/home/app:/bin/sh\n", group: "" });
 * // { uid: 1000, gid: 1000, additionalGids: [1000] }
 */
export function resolveUser(input: {
  security?: LinuxContainerSecurityContext;
  imageUser?: string;
  passwd: string;
  group: string;
  containerName?: string;
}): OciUser & { username?: string } {
  const { security } = input;
  const passwd = parsePasswd(input.passwd);
  const groups = parseGroup(input.group);
  const who = input.containerName ? `container "${input.containerName}": ` : "";

  let userPart: string;
  let groupPart: string | undefined;
  if (security?.runAsUser !== undefined && security.runAsUser !== null) {
    userPart = String(security.runAsUser.value);
  } else if (security?.runAsUsername) {
    userPart = security.runAsUsername;
  } else {
    const spec = input.imageUser ?? "";
    const colon = spec.indexOf(":");
    userPart = colon >= 0 ? spec.slice(0, colon) : spec;
    groupPart = colon >= 0 ? spec.slice(colon + 1) : undefined;
  }
  if (userPart === "") userPart = "0";

  let uid: number;
  let gid = 0;
  let username: string | undefined;
  if (NUMERIC.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) {
      gid = entry.gid;
      username = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw CriError.invalidArgument(`${who}user "${userPart}" not found in the image's /etc/passwd`);
    }
    uid = entry.uid;
    gid = entry.gid;
    username = entry.name;
  }

  if (security?.runAsGroup !== undefined && security.runAsGroup !== null) {
    gid = security.runAsGroup.value;
  } else if (groupPart !== undefined && groupPart !== "") {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g)
        throw CriError.invalidArgument(`${who}group "${groupPart}" not found in the image's /etc/group`);
      gid = g.gid;
    }
  }

  const extra = new Set<number>([gid]);
  if (username !== undefined) {
    for (const g of groups) if (g.members.includes(username)) extra.add(g.gid);
  }
  for (const g of security?.supplementalGroups ?? []) extra.add(g);
  const out: OciUser & { username?: string } = { uid, gid, additionalGids: [...extra] };
  if (username !== undefined) out.username = username;
  return out;
}
