/**
 * The `… serve` commands' foreground loop: wait for SIGTERM or SIGINT, then close the server and return (exit code 1
 * when closing fails). One place, so every server command stops the same way.
 */
export function serveUntilSignal(handle: { close(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      handle.close().then(resolve, () => {
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
