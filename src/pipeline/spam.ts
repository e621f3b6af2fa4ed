import type { FeedbackDoc, InteractionDoc } from "../store/documents.js";
import type { PipelineConfig } from "./config.js";

/** Why feedback was filtered: a closed set (README, "Processing pipeline"). */
export type FilterReason =
  | "bot_user_agent"
  | "too_fast"
  | "user_burst"
  | "ip_burst"
  | "key_burst"
  | "text_flood";

export interface Filtered {
  readonly reason: FilterReason;
  readonly detail: string;
}

/** The fields of neighbouring feedback the burst and flood limits compare. */
export type WindowEntry = Pick<
  FeedbackDoc,
  "_id" | "userId" | "submittedBy" | "textHash" | "receivedAt"
> & {
  client?: { ip?: string };
};

/** The longest extra reading time an answer's length can demand. */
export const MAX_READING_MS = 10_000;

/** Kinds that say something about the answer's content, so the answer must have been read. */
const readingKinds = new Set(["binary", "rating", "correction", "comparison", "flag", "comment"]);

/**
 * How many entries of `window` share `same(entry)` and arrived within `windowMs` up to and
 * including `feedback` (ties on time broken by id): the result never depends on later feedback,
 * so a re-run over history filters the same items as the live run did.
 */
function countWithin(
  feedback: FeedbackDoc,
  window: readonly WindowEntry[],
  windowMs: number,
  same: (entry: WindowEntry) => boolean,
): number {
  const at = feedback.receivedAt.getTime();
  const id = feedback._id.toHexString();
  let count = 0;
  for (const entry of window) {
    const time = entry.receivedAt.getTime();
    if (time <= at - windowMs || time > at) continue;
    if (time === at && entry._id.toHexString() > id) continue;
    if (same(entry)) count++;
  }
  return count;
}

export function readingTimeMs(response: string, config: PipelineConfig): number {
  const reading =
    config.readCharsPerSecond > 0 ? (response.length / config.readCharsPerSecond) * 1_000 : 0;
  return config.minReadMs + Math.min(reading, MAX_READING_MS);
}

/**
 * The spam and bot filter: known bot user agents, feedback faster than the answer could be read,
 * bursts from one user, client address or API key, and floods of identical text. Filtered
 * feedback is kept and marked, never dropped.
 */
export function spamVerdict(
  feedback: FeedbackDoc,
  interaction: InteractionDoc | null,
  window: readonly WindowEntry[],
  config: PipelineConfig,
): Filtered | null {
  const agent = feedback.client?.userAgent?.toLowerCase();
  if (agent) {
    const bot = config.botUserAgents.find((needle) => agent.includes(needle));
    if (bot) return { reason: "bot_user_agent", detail: `user agent matches "${bot}"` };
  }
  if (interaction && feedback.source === "user" && readingKinds.has(feedback.kind)) {
    const needed = readingTimeMs(interaction.response, config);
    // Server clocks (recordedAt → receivedAt) for live traffic, client clocks for imported history:
    // either showing enough time is enough.
    const elapsed = Math.max(
      feedback.receivedAt.getTime() - interaction.recordedAt.getTime(),
      feedback.createdAt.getTime() - interaction.createdAt.getTime(),
    );
    if (elapsed < needed) {
      return {
        reason: "too_fast",
        detail: `feedback ${Math.max(0, elapsed)} ms after the answer; reading it takes at least ${Math.round(needed)} ms`,
      };
    }
  }
  const seconds = Math.round(config.burstWindowMs / 1_000);
  if (config.userBurstMax > 0 && feedback.userId) {
    const count = countWithin(
      feedback,
      window,
      config.burstWindowMs,
      (e) => e.userId === feedback.userId,
    );
    if (count > config.userBurstMax) {
      return {
        reason: "user_burst",
        detail: `${count} feedback from one user within ${seconds} s (limit ${config.userBurstMax})`,
      };
    }
  }
  const ip = feedback.client?.ip;
  // Only browser tokens: a backend's API key sends every user's feedback from one address.
  if (config.ipBurstMax > 0 && ip && feedback.submittedBy === "feedbackToken") {
    const count = countWithin(
      feedback,
      window,
      config.burstWindowMs,
      (e) => e.client?.ip === ip && e.submittedBy === "feedbackToken",
    );
    if (count > config.ipBurstMax) {
      return {
        reason: "ip_burst",
        detail: `${count} feedback from one client address within ${seconds} s (limit ${config.ipBurstMax})`,
      };
    }
  }
  if (config.keyBurstMax > 0 && feedback.submittedBy !== "feedbackToken") {
    const count = countWithin(
      feedback,
      window,
      config.burstWindowMs,
      (e) => e.submittedBy === feedback.submittedBy,
    );
    if (count > config.keyBurstMax) {
      return {
        reason: "key_burst",
        detail: `${count} feedback from one API key within ${seconds} s (limit ${config.keyBurstMax})`,
      };
    }
  }
  if (config.textFloodMax > 0 && feedback.textHash) {
    const count = countWithin(
      feedback,
      window,
      config.textFloodWindowMs,
      (e) => e.textHash === feedback.textHash,
    );
    if (count > config.textFloodMax) {
      return {
        reason: "text_flood",
        detail: `${count} feedback with the same text within ${Math.round(config.textFloodWindowMs / 1_000)} s (limit ${config.textFloodMax})`,
      };
    }
  }
  return null;
}
