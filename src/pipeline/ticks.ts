import type { Periodic } from "../jobs/periodic.js";
import { createPeriodic } from "../jobs/periodic.js";
import { DRIFT_JOB } from "./audit.js";
import type { AuditConfig, JudgesConfig } from "./judges-config.js";
import { RLAIF_JOB } from "./rlaif.js";

/**
 * The in-process cadence of automated feedback and of the drift refresh: each tick only enqueues
 * a keyed job (one per key while queued, running or dead), so several workers ticking make one
 * run, and the work itself is durable in the queue.
 */
export function createAutomationTicks(deps: {
  judges: JudgesConfig | undefined;
  audit: AuditConfig;
  enqueue(
    type: string,
    payload: Record<string, unknown>,
    options: { key: string },
  ): Promise<unknown>;
  failed(error: unknown, type: string): void;
}): Periodic[] {
  const ticks: Periodic[] = [];
  const every = (type: string, seconds: number) =>
    ticks.push(
      createPeriodic({
        intervalMs: seconds * 1_000,
        run: () => deps.enqueue(type, { trigger: "periodic" }, { key: type }),
        failed: (error) => deps.failed(error, type),
      }),
    );
  if (deps.judges?.enabled) every(RLAIF_JOB, deps.judges.intervalSeconds);
  if (deps.audit.refreshSeconds > 0) every(DRIFT_JOB, deps.audit.refreshSeconds);
  return ticks;
}
