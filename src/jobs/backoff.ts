/** Delay before the next attempt: exponential growth, capped. */
export interface BackoffPolicy {
  /** Delay after the first failure, and the smallest delay ever used. */
  readonly baseMs: number;
  /** The exponential curve stops growing here. */
  readonly maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 15 * 60_000 };

/**
 * "Full jitter" (AWS architecture blog, "Exponential backoff and jitter"), floored at the base:
 * a uniform pick in [base, min(max, base·2^(n-1))], so workers that failed together (a database
 * blip, an outage of a provider) do not all come back in the same millisecond. `failedAttempt`
 * counts from 1. The schedule is a function, not a retry loop: the queue stores the result as
 * the job's runAt, so nothing sleeps in-process and a crash loses no retry. `random` is injected
 * so tests can pin the schedule.
 */
export function backoffDelay(
  failedAttempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failedAttempt - 1);
  // 2^exponent overflows to Infinity long after the cap applies; min() keeps it finite.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(Math.max(policy.baseMs, random() * ceiling));
}
