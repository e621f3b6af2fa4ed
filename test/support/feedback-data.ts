import { ObjectId } from "mongodb";
import { Prng } from "./prng.js";

/** A Loopgate feedback event, as the gateway stores it. */
export interface FeedbackDoc {
  _id: ObjectId;
  modelVersion: string;
  kind: FeedbackKind;
  /** Only `rating` feedback carries a rating, so aggregations must cope with the field missing. */
  rating?: number;
  latencyMs: number;
  createdAt: Date;
  tags: string[];
  user: { id: string; plan: "free" | "pro" | "enterprise" };
  comment: string | null;
}

export type FeedbackKind = "thumbs_up" | "thumbs_down" | "rating" | "correction";

export interface ModelDoc {
  _id: string;
  family: string;
  releasedAt: Date;
}

export interface TagDoc {
  _id: string;
  severity: number;
}

export const MODEL_VERSIONS = ["chat-1.0", "chat-1.1", "chat-2.0", "summarize-0.9"] as const;
export const KINDS: readonly FeedbackKind[] = ["thumbs_up", "thumbs_down", "rating", "correction"];
export const TAGS = ["latency", "hallucination", "tone", "format", "helpful", "urgent"] as const;

const WORDS = ["Great", "answer", "TOO", "slow", "wrong", "date", "ünïcødé", "👍", "Loved", "it"];
const PLANS = ["free", "pro", "enterprise"] as const;
const START = Date.UTC(2025, 0, 1);

/**
 * `count` feedback documents with strictly increasing `createdAt` (so sorts on it have no ties)
 * spread over roughly a quarter of a year.
 */
export function generateFeedback(count: number, seed = 42): FeedbackDoc[] {
  const rng = new Prng(seed);
  const docs: FeedbackDoc[] = [];
  let at = START;
  for (let i = 0; i < count; i++) {
    at += rng.int(60_000, 4 * 3_600_000) + rng.int(1, 999);
    const kind = rng.pick(KINDS);
    const doc: FeedbackDoc = {
      _id: new ObjectId(i.toString(16).padStart(24, "0")),
      modelVersion: rng.pick(MODEL_VERSIONS),
      kind,
      latencyMs: rng.chance(0.1) ? rng.int(1000, 3000) : rng.int(20, 999),
      createdAt: new Date(at),
      tags: rng.sample(TAGS, rng.int(0, 3)),
      user: { id: `u${rng.int(1, 40)}`, plan: rng.pick(PLANS) },
      comment: rng.chance(0.3)
        ? null
        : Array.from({ length: rng.int(1, 5) }, () => rng.pick(WORDS)).join(" "),
    };
    if (kind === "rating") doc.rating = rng.int(1, 5);
    docs.push(doc);
  }
  return docs;
}

/** `summarize-0.9` has feedback but no catalog entry, so joins must cope with a missing match. */
export const MODELS: ModelDoc[] = [
  { _id: "chat-1.0", family: "chat", releasedAt: new Date("2024-11-01T00:00:00Z") },
  { _id: "chat-1.1", family: "chat", releasedAt: new Date("2025-02-01T00:00:00Z") },
  { _id: "chat-2.0", family: "chat", releasedAt: new Date("2025-03-10T00:00:00Z") },
  { _id: "vision-0.1", family: "vision", releasedAt: new Date("2025-01-15T00:00:00Z") },
];

export const TAG_CATALOG: TagDoc[] = [
  { _id: "latency", severity: 2 },
  { _id: "hallucination", severity: 5 },
  { _id: "tone", severity: 1 },
  { _id: "urgent", severity: 4 },
];
