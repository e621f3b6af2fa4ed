/**
 * Runs a task now and then every `intervalMs`, one run at a time (a slow run delays the next
 * instead of overlapping it). For in-process housekeeping whose work is itself durable (e.g. a
 * sweep that enqueues jobs): losing a tick to a crash loses nothing, the next process sweeps again.
 */
export interface Periodic {
  start(): void;
  /** Stops scheduling and waits for a run in progress. */
  stop(): Promise<void>;
}

export function createPeriodic(options: {
  intervalMs: number;
  /** `first` is true for the run at start. */
  run(first: boolean): Promise<unknown>;
  /** A failed run is reported and the schedule goes on. */
  failed(error: unknown): void;
}): Periodic {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = (first: boolean) => {
    running = options
      .run(first)
      .then(
        () => undefined,
        (error: unknown) => options.failed(error),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(() => tick(false), options.intervalMs).unref();
      });
  };
  return {
    start() {
      if (stopped || running || timer) return;
      tick(true);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
