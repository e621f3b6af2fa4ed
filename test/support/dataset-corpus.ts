import { ObjectId } from "mongodb";
import type { FeedbackDoc, InteractionDoc } from "../../src/store/documents.js";
import { Prng } from "./prng.js";

/**
 * A large, realistic feedback corpus in the shapes the write path stores (for tests and the
 * datasets benchmark that need more feedback than mutations can submit quickly): answers to a
 * pool of recurring prompts, thumbs, ratings, corrections and comparisons from a pool of raters,
 * some of it processed by the pipeline (quality scores, duplicates, filtered spam).
 */
export interface DatasetCorpus {
  readonly interactions: InteractionDoc[];
  readonly feedback: FeedbackDoc[];
}

const TOPICS = ["billing", "account", "shipping", "returns", "product"] as const;
const DIFFICULTIES = ["easy", "medium", "hard"] as const;

export function generateDatasetCorpus(
  feedbackCount: number,
  options: { seed?: number; start?: Date; pipelineShare?: number } = {},
): DatasetCorpus {
  const rng = new Prng(options.seed ?? 7);
  const start = (options.start ?? new Date("2026-10-01T00:00:00Z")).getTime();
  const interactionCount = Math.max(2, Math.ceil(feedbackCount / 4));
  const prompts = Math.max(1, Math.ceil(interactionCount / 5));
  const model = { id: "support-bot", version: "2026-10-01" };
  const summary = {
    count: 0,
    positive: 0,
    negative: 0,
    hasCorrection: false,
    flagged: false,
    safetyFlagged: false,
    revision: 0,
  };
  const interactions: InteractionDoc[] = [];
  for (let i = 0; i < interactionCount; i++) {
    const prompt = rng.int(0, prompts - 1);
    const at = new Date(start + i * 1_000);
    interactions.push({
      _id: new ObjectId(),
      query: `Question ${prompt}: how do I change the delivery address of order ${prompt * 7}?`,
      response: `Answer ${i}: open Orders, pick the order, then ${rng.chance(0.5) ? "Edit address" : "contact support"}.`,
      model,
      sessionId: `session-${i % 997}`,
      userId: `user-${i % 1_009}`,
      metadata: { topic: TOPICS[prompt % TOPICS.length], difficulty: rng.pick(DIFFICULTIES) },
      createdAt: at,
      recordedAt: at,
      payloadHash: `h${i}`,
      feedbackSummary: summary,
      feedbackRevision: 0,
    });
  }
  const feedback: FeedbackDoc[] = [];
  const pipelineShare = options.pipelineShare ?? 0.8;
  for (let i = 0; i < feedbackCount; i++) {
    const interaction = interactions[rng.int(0, interactions.length - 1)]!;
    const rater = `user:rater-${rng.int(0, 199)}`;
    const at = new Date(start + interactionCount * 1_000 + i * 100);
    const roll = rng.next();
    const common = {
      _id: new ObjectId(),
      interactionId: interaction._id,
      interactionIds: [interaction._id],
      model,
      interactionCreatedAt: interaction.createdAt,
      raterKey: rater,
      subject: interaction._id.toHexString(),
      source: "user" as const,
      status: "active" as const,
      createdAt: at,
      receivedAt: at,
      payloadHash: `f${i}`,
      submittedBy: "bench",
    };
    let doc: FeedbackDoc;
    if (roll < 0.5) {
      const positive = rng.chance(0.6);
      doc = {
        ...common,
        kind: "binary",
        key: "thumbs",
        sentiment: positive ? "positive" : "negative",
        binary: { positive },
      };
    } else if (roll < 0.8) {
      const score = rng.int(1, 5);
      const normalized = (score - 1) / 4;
      doc = {
        ...common,
        kind: "rating",
        key: "rating",
        sentiment: normalized >= 0.75 ? "positive" : normalized <= 0.25 ? "negative" : "neutral",
        rating: { score, min: 1, max: 5, normalized },
      };
    } else if (roll < 0.9) {
      doc = {
        ...common,
        kind: "correction",
        key: "correction",
        sentiment: "negative",
        correction: {
          originalResponse: interaction.response,
          correctedResponse: `Corrected ${i}: open Orders, choose the order and press Edit address before it ships.`,
        },
      };
    } else {
      const other = interactions[rng.int(0, interactions.length - 1)]!;
      const a = { interactionId: interaction._id, text: interaction.response, model };
      const b = { interactionId: other._id, text: other.response, model };
      const sides = [a.interactionId.toHexString(), b.interactionId.toHexString()].sort();
      doc = {
        ...common,
        interactionIds: [interaction._id, other._id],
        kind: "comparison",
        key: "preference",
        sentiment: "neutral",
        subject: sides.join("|"),
        comparison: {
          prompt: interaction.query,
          a,
          b,
          preferred: rng.chance(0.1) ? "tie" : rng.chance(0.5) ? "a" : "b",
          strength: Math.round(rng.next() * 100) / 100,
        },
      };
    }
    if (rng.chance(pipelineShare)) {
      const spam = rng.chance(0.02);
      doc.pipeline = {
        version: 1,
        processedAt: at,
        quality: Math.round(rng.next() * 100) / 100,
        category: null,
        priority: 0,
        route: null,
        ...(spam ? { filtered: { reason: "burst" } } : {}),
      };
    }
    feedback.push(doc);
  }
  return { interactions, feedback };
}
