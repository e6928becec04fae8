// A real small disk for storage-failure tests: a tmpfs of a few hundred KiB mounted on a fresh directory (needs
// root: `mount -t tmpfs`), which a filler file fills to the last byte and frees again.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallDisk {
  /** The mount point: the data dir to give the server or store. */
  readonly dir: string;
  /** Fills the disk with filler files until the filesystem refuses a byte (ENOSPC); returns the bytes written. */
  fill(): number;
  /** Deletes the filler files: the space is free again. */
  free(): void;
  /** Free bytes on the disk as the filesystem reports them. */
  freeBytes(): number;
  /** Unmounts (lazily if something still holds a file open) and removes the mount point. */
  unmount(): void;
}

const mount = (dir: string, sizeKiB: number) =>
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0755`, "tmpfs", dir], { stdio: "pipe" });

/** Mounts a tmpfs of `sizeKiB`. Throws if mounting is not possible (not root, no tmpfs). */
export const mountSmallDisk = (sizeKiB: number): SmallDisk => {
  const dir = mkdtempSync(join(tmpdir(), "protochat-disk-"));
  try {
    mount(dir, sizeKiB);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let fillers = 0;
  return {
    dir,
    fill: () => {
      let written = 0;
      // Big chunks first, then smaller ones, so the last page is used too (tmpfs allocates by page).
      for (const chunk of [256 * 1024, 4096, 512]) {
        const fd = openSync(join(dir, `filler-${fillers++}`), "w");
        const bytes = Buffer.alloc(chunk, 0x5a);
        try {
          for (;;) written += writeSync(fd, bytes);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
        } finally {
          closeSync(fd);
        }
      }
      return written;
    },
    free: () => {
      for (const name of readdirSync(dir)) if (name.startsWith("filler-")) unlinkSync(join(dir, name));
    },
    freeBytes: () => {
      const fs = statfsSync(dir);
      return fs.bavail * fs.bsize;
    },
    unmount: () => {
      try {
        execFileSync("umount", [dir], { stdio: "pipe" });
      } catch {
        execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** Why a small disk cannot be mounted here, or undefined if it can (checked once, with a 64 KiB mount). */
export const smallDiskProblem: string | undefined = (() => {
  try {
    mountSmallDisk(64).unmount();
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here (needs root): ${(error as Error).message.split("\n")[0]}`;
  }
})();
