/**
 * The first SIGINT or SIGTERM a long-running command (serve, worker, emulator) receives, once. Call it before
 * printing the ready line: a supervisor may signal as soon as it reads that line. Both listeners are removed
 * when a signal arrives, so a second signal gets Node's default (the process ends at once).
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
