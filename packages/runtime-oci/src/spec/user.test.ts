import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePasswd, resolveUser } from "./user.js";

const passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const group = "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nwheel:x:10:root\n";

describe("resolveUser", () => {
  it("defaults to root with root's groups", () => {
    expect(resolveUser({ passwd, group })).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [0, 10],
      username: "root",
    });
  });
  it("resolves the image's User by name, with supplemental groups from /etc/group", () => {
    expect(resolveUser({ imageUser: "app", passwd, group })).toMatchObject({
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 2000],
    });
  });
  it("accepts uid:gid and name:group forms", () => {
    expect(resolveUser({ imageUser: "1000:10", passwd, group })).toMatchObject({ uid: 1000, gid: 10 });
    expect(resolveUser({ imageUser: "app:wheel", passwd, group })).toMatchObject({ uid: 1000, gid: 10 });
  });
  it("lets run_as_user / run_as_username / run_as_group override the image", () => {
    const security = { runAsUser: { value: 1000 }, runAsGroup: { value: 3000 }, supplementalGroups: [4000] };
    expect(resolveUser({ imageUser: "root", passwd, group, security })).toEqual({
      uid: 1000,
      gid: 3000,
      additionalGids: [3000, 2000, 4000],
      username: "app",
    });
    expect(resolveUser({ passwd, group, security: { runAsUsername: "app" } })).toMatchObject({ uid: 1000 });
  });
  it("takes an unknown numeric uid as is, with gid 0", () => {
    expect(resolveUser({ imageUser: "4242", passwd, group })).toEqual({
      uid: 4242,
      gid: 0,
      additionalGids: [0],
    });
  });
  it("refuses unknown names with InvalidArgument naming the container", () => {
    expect(() => resolveUser({ imageUser: "ghost", passwd, group, containerName: "c" })).toThrow(
      /container "c": user "ghost" not found/,
    );
  });
  it("parses any well-formed passwd line back", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/),
        fc.nat(65535),
        fc.nat(65535),
        (name, uid, gid) => {
          const [e] = parsePasswd(`${name}:x:${uid}:${gid}::/home/${name}:/bin/sh\n`);
          expect(e).toEqual({ name, uid, gid, home: `/home/${name}` });
        },
      ),
    );
  });
});
