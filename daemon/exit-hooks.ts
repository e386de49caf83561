/**
 * Work that must run however the process ends, short of `kill -9`: removing the home's lock
 * (home-lock.ts), ending the child processes plugins started (plugins/child-processes.ts).
 *
 * `exit` covers a normal end and process.exit() — what `patchbay start` does after its
 * SIGTERM/SIGINT drain. A signal nothing else handles (`stdio --standalone`, a daemon still
 * starting) would end the process without `exit`, so for those the hooks run here and the
 * signal is raised again, the process still dying of it. When another listener handles the
 * signal, it ends the process and `exit` runs the hooks.
 */
const hooks: (() => void)[] = [];
let installed = false;

function runAll() {
  for (const hook of hooks.splice(0)) {
    try {
      hook();
    } catch {
      // one failing hook must not keep the others from running
    }
  }
}

/** Runs `hook` once when the process ends (synchronously: no awaiting in it). */
export function atExit(hook: () => void): void {
  hooks.push(hook);
  if (installed) return;
  installed = true;
  process.on("exit", runAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      runAll();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
