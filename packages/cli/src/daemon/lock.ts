/** One servin per root directory: a pid lock file, replaced when its owner is dead (a crashed run). */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function lockRoot(root: string): Promise<() => Promise<void>> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const path = join(root, "servin.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      return async () => {
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`another servin (pid ${pid}) is using ${root}; stop it or choose another --root`);
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock ${root}`);
}
