/** Size-based rotation shared by the daemon log and the audit log. */
import { renameSync, rmSync } from "node:fs";

/**
 * Moves `file` to `file.1`, `file.1` to `file.2` … keeping `maxFiles` old generations (the
 * oldest is dropped); with 0 the file is simply removed. The caller has closed `file` and
 * opens a fresh one afterwards.
 */
export function shiftGenerations(file: string, maxFiles: number): void {
  if (maxFiles === 0) {
    rmSync(file, { force: true });
    return;
  }
  rmSync(`${file}.${maxFiles}`, { force: true });
  for (let i = maxFiles - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      // that generation does not exist yet
    }
  }
  try {
    renameSync(file, `${file}.1`);
  } catch {
    // nothing to rotate
  }
}
