/**
 * `$PATCHBAY_HOME` must be a folder this process can write before anything is put in it: the
 * state file, the compile cache, plugin data and the log all live there, and each would
 * otherwise fail on its own later with a raw stack trace naming some file inside it.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HomeUnusableError, messageOf } from "./errors.ts";

const WHY: Record<string, string> = {
  ENOTDIR: "a part of the path is a file, not a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the path is too long",
};

/** Creates the home folder if needed and proves it writable; throws one clear HomeUnusableError. */
export function ensureHome(home: string): void {
  try {
    mkdirSync(home, { recursive: true });
  } catch (err) {
    throw unusable(home, (err as NodeJS.ErrnoException).code === "EEXIST" ? "it is a file, not a folder" : `cannot create it: ${why(err)}`, err);
  }
  // A real write, not access(W_OK): that says yes to root on a read-only mount.
  const probe = join(home, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, "");
  } catch (err) {
    throw unusable(home, `cannot write in it: ${why(err)}`, err);
  }
  rmSync(probe, { force: true });
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${WHY[code] ?? messageOf(err)} (${code})` : messageOf(err);
}

function unusable(home: string, problem: string, err: unknown): Error {
  return new HomeUnusableError(`cannot use PATCHBAY_HOME ${home}: ${problem}. Point PATCHBAY_HOME at a folder you can write, or fix that path's permissions.`, { cause: err });
}
