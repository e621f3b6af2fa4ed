import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { SpanKind } from "@opentelemetry/api";
import type { Collection, Document } from "mongodb";
import { systemActor } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../observability/logger.js";
import { traceInline } from "../observability/tracing.js";
import { isStoreUnavailable } from "../store/errors.js";
import { backoffDelay } from "./backoff.js";
import { createFencedCollection } from "./fence.js";
import type { Claimed, JobQueue } from "./queue.js";
import { type JobContext, type JobHandler, LeaseLostError } from "./types.js";

/** How a run ended, for metrics: a closed set. */
export type RunOutcome = "succeeded" | "retried" | "dead" | "lease_lost" | "abandoned";

/** What the worker reports; observability implements it (see observability/job-metrics.ts). */
export interface JobRunObserver {
  runFinished(type: string, outcome: RunOutcome, seconds: number): void;
}

export interface JobWorkerOptions {
  readonly queue: JobQueue;
  /** Handlers by job type; each must be a type registered with the queue. */
  readonly handlers: Readonly<Record<string, JobHandler<never>>>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Jobs this process runs at once, across types. */
  readonly concurrency: number;
  readonly leaseMs: number;
  /** Wait between claims when no job is runnable. */
  readonly pollMs: number;
  readonly observer?: JobRunObserver;
  /** Jitter source for backoff; tests pin it. */
  readonly random?: () => number;
  /** Names this worker in leases and attempt logs. */
  readonly workerId?: string;
}

export interface JobWorker {
  readonly id: string;
  start(): void;
  /**
   * Stops claiming, waits for running jobs up to `timeoutMs`, then aborts the handlers still
   * running without releasing their leases: those jobs run again elsewhere once the leases
   * expire, so a job is never handed to a second worker while the first may still be writing.
   */
  stop(timeoutMs: number): Promise<{ unfinished: number }>;
  /** Jobs running now. */
  readonly active: number;
}

class ShutdownAbort extends Error {
  constructor() {
    super("worker shutdown timeout reached");
    this.name = "ShutdownAbort";
  }
}

export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const { queue, clock, logger, leaseMs, pollMs } = options;
  const id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const log = logger.child({ component: "jobs", worker: id });
  for (const type of Object.keys(options.handlers)) {
    if (!queue.types.has(type)) throw new Error(`handler for unregistered job type: ${type}`);
  }
  const handled = Object.keys(options.handlers);
  const runningByType = new Map<string, number>();
  const runs = new Set<{ promise: Promise<void>; abort: (reason: unknown) => void }>();
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /** Types with a free slot under their per-type limit. */
  const claimable = () =>
    handled.filter(
      (type) => (runningByType.get(type) ?? 0) < (queue.types.get(type)?.concurrency ?? 0),
    );

  async function claimLoop() {
    while (!stopping) {
      const types = runs.size < options.concurrency ? claimable() : [];
      if (types.length === 0) {
        await nap(pollMs);
        continue;
      }
      let claimed: Claimed | null;
      try {
        claimed = await queue.claim(types, id, leaseMs);
      } catch (error) {
        // An outage is expected and answered by retrying: a warning, not an error with a stack.
        (isStoreUnavailable(error) ? log.warn : log.error).call(
          log,
          { err: error },
          "claiming a job failed; retrying after the poll interval",
        );
        await nap(pollMs);
        continue;
      }
      if (!claimed) {
        await nap(pollMs);
        continue;
      }
      if (stopping) {
        // Claimed but not started: the only lease it is safe to hand back early.
        await queue.release(claimed.fence).catch(() => undefined);
        break;
      }
      start(claimed);
    }
  }

  function start(claimed: Claimed) {
    const { job } = claimed;
    const type = job.type;
    runningByType.set(type, (runningByType.get(type) ?? 0) + 1);
    const controller = new AbortController();
    const entry = {
      promise: Promise.resolve(),
      abort: (reason: unknown) => controller.abort(reason),
    };
    entry.promise = execute(claimed, controller).finally(() => {
      runningByType.set(type, (runningByType.get(type) ?? 1) - 1);
      runs.delete(entry);
      wake?.(); // a slot is free: claim again now rather than after the poll interval
    });
    runs.add(entry);
  }

  async function execute(claimed: Claimed, controller: AbortController) {
    const { job, fence } = claimed;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    // The holder treats its lease as ending a margin before the store does (clock skew, a slow
    // round trip): past this instant it writes nothing, even if no heartbeat has failed yet.
    const margin = Math.min(1_000, leaseMs / 10);
    let heldUntil = clock.now().getTime() + leaseMs - margin;
    let lost = false;
    const loseLease = (why: string) => {
      if (lost) return;
      lost = true;
      log.warn({ jobId: job._id.toHexString(), type: job.type }, `lease lost: ${why}`);
      controller.abort(new LeaseLostError());
    };
    const isHeld = () => {
      if (!lost && clock.now().getTime() > heldUntil) loseLease("no heartbeat got through in time");
      return !lost;
    };
    const heartbeat = setInterval(
      () => {
        if (controller.signal.reason instanceof ShutdownAbort) {
          // Past the shutdown timeout the lease is left to run out rather than renewed.
          clearInterval(heartbeat);
          return;
        }
        const sentAt = clock.now().getTime();
        queue.heartbeat(fence, leaseMs).then(
          (ok) => {
            if (ok) heldUntil = sentAt + leaseMs - margin;
            else loseLease("taken over or cancelled");
          },
          (error: unknown) => {
            log.warn({ err: error, jobId: job._id.toHexString() }, "heartbeat failed");
            isHeld();
          },
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );

    const context: JobContext = {
      job: {
        id: job._id.toHexString(),
        type: job.type,
        payload: job.payload,
        key: job.key,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
        progress: job.progress,
      },
      signal: controller.signal,
      fence,
      actor: systemActor(`job:${job.type}`),
      async checkpoint(progress) {
        if (!isHeld() || !(await queue.checkpoint(fence, progress))) {
          loseLease("checkpoint refused");
          throw new LeaseLostError();
        }
      },
      fenced: <T extends Document>(collection: Collection<T>) =>
        createFencedCollection(collection, fence, isHeld),
    };
    const handler = options.handlers[job.type] as JobHandler;
    let outcome: RunOutcome;
    try {
      if (claimed.job.attempts > claimed.job.maxAttempts) {
        // The last allowed attempt's holder died without reporting: running it again would make
        // a crash loop endless, so the job goes dead with the reason.
        throw new Error(
          `attempt ${claimed.job.attempts} exceeds maxAttempts ${claimed.job.maxAttempts}`,
        );
      }
      await traceInline(
        `job ${job.type}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            "loopgate.job.id": context.job.id,
            "loopgate.job.type": job.type,
            "loopgate.job.attempt": job.attempts,
          },
        },
        () => handler(context),
      );
      outcome = isHeld() && (await queue.complete(claimed)) ? "succeeded" : "lease_lost";
    } catch (error) {
      if (!isHeld()) {
        outcome = "lease_lost";
      } else if (controller.signal.reason instanceof ShutdownAbort) {
        // Given up at shutdown: nothing is written, the lease runs out and another worker retries.
        outcome = "abandoned";
      } else {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const exhausted = job.attempts >= job.maxAttempts;
        const retryAt = exhausted
          ? null
          : new Date(
              clock.now().getTime() +
                backoffDelay(job.attempts, queue.backoffFor(job.type), options.random),
            );
        const written = await queue.fail(claimed, message, retryAt).catch((writeError) => {
          (isStoreUnavailable(writeError) ? log.warn : log.error).call(
            log,
            { err: writeError },
            "recording a failed attempt failed; the lease expires and the job runs again",
          );
          return false;
        });
        outcome = !written ? "lease_lost" : exhausted ? "dead" : "retried";
        log[exhausted ? "error" : "warn"](
          { jobId: job._id.toHexString(), type: job.type, attempt: job.attempts, err: error },
          exhausted ? "job failed for the last time: dead" : "job failed; retry scheduled",
        );
      }
    } finally {
      clearInterval(heartbeat);
    }
    options.observer?.runFinished(job.type, outcome, seconds());
  }

  return {
    id,
    get active() {
      return runs.size;
    },
    start() {
      if (loop) return;
      log.info(
        { concurrency: options.concurrency, leaseMs, pollMs, types: handled },
        "job worker started",
      );
      loop = claimLoop().catch((error) => log.error({ err: error }, "job worker loop crashed"));
    },
    async stop(timeoutMs) {
      stopping = true;
      wake?.();
      await loop;
      const pending = [...runs];
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.all(pending.map((run) => run.promise)).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      const unfinished = runs.size;
      if (timedOut && unfinished > 0) {
        log.warn({ unfinished }, "shutdown timeout: aborting running jobs; their leases expire");
        for (const run of runs) run.abort(new ShutdownAbort());
      }
      log.info({ unfinished }, "job worker stopped");
      return { unfinished };
    },
  };
}
