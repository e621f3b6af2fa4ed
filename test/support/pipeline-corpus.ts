import { ObjectId } from "mongodb";
import type { FeedbackDoc, InteractionDoc } from "../../src/store/documents.js";
import { Prng } from "./prng.js";

/**
 * A realistic feedback history for the pipeline's backfill (tests and bench/pipeline.ts): answers
 * to recurring questions, thumbs, ratings, comments in the words of each failure category, safety
 * and accuracy flags, corrections, some double submissions, a crawler and a flooding account;
 * spread over weeks with strictly increasing ids. No pipeline results, no markers: history from
 * before the pipeline existed.
 */
const QUESTIONS = [
  "How do I reset my password?",
  "What is the price of plan {n}?",
  "Can I export my data to CSV?",
  "Why was order {n} delayed?",
  "How do I cancel my subscription?",
  "Does the API support webhooks?",
  "What are your opening hours on day {n}?",
  "How do I change my email address?",
];
const COMMENTS = [
  "That is wrong, the price changed last month",
  "It didn't know about the new plans, outdated",
  "Please add an export to Excel",
  "The formatting is a wall of text",
  "Totally off-topic answer",
  "Thanks, very helpful",
  "This is harmful advice",
  "ok",
];

export interface PipelineCorpus {
  readonly interactions: InteractionDoc[];
  readonly feedback: FeedbackDoc[];
}

export function pipelineCorpus(
  count: number,
  seed = 7,
  start = Date.UTC(2026, 0, 1),
): PipelineCorpus {
  const rng = new Prng(seed);
  const interactions: InteractionDoc[] = [];
  const feedback: FeedbackDoc[] = [];
  const answers = Math.max(1, Math.ceil(count / 3));
  const base = Math.floor(start / 1000);
  let at = start;
  const id = (time: number, n: number) =>
    new ObjectId(
      Math.floor(time / 1000)
        .toString(16)
        .padStart(8, "0") + n.toString(16).padStart(16, "0"),
    );
  for (let i = 0; i < answers; i++) {
    at += rng.int(1_000, 60_000);
    const query = rng.pick(QUESTIONS).replace("{n}", String(rng.int(1, 50)));
    interactions.push({
      _id: id(at, i),
      query,
      response: `An answer to "${query}" that takes a moment to read.`,
      model: { id: "support-bot", version: rng.pick(["v1", "v2"]) },
      userId: `u_owner${rng.int(1, 500)}`,
      createdAt: new Date(at),
      recordedAt: new Date(at),
      payloadHash: `h${i}`,
      feedbackSummary: {
        count: 0,
        positive: 0,
        negative: 0,
        hasCorrection: false,
        flagged: false,
        safetyFlagged: false,
        revision: 0,
      },
      feedbackRevision: 0,
    });
  }
  let previous: FeedbackDoc | undefined;
  for (let n = 0; n < count; n++) {
    const interaction =
      interactions[
        Math.min(interactions.length - 1, Math.floor((n * interactions.length) / count))
      ]!;
    at = Math.max(at - 3_600_000, interaction.createdAt.getTime()) + rng.int(5_000, 120_000);
    const time = Math.max(at, interaction.createdAt.getTime() + 5_000);
    const user = rng.chance(0.02)
      ? "u_flooder"
      : `u_rater${rng.int(1, Math.max(10, Math.floor(count / 20)))}`;
    const roll = rng.next();
    const common = {
      _id: id(base * 1000 + (time - start), 1_000_000 + n),
      key: "thumbs",
      interactionId: interaction._id,
      interactionIds: [interaction._id],
      model: interaction.model,
      interactionCreatedAt: interaction.createdAt,
      userId: user,
      raterKey: `user:${user}`,
      source: "user" as const,
      subject: interaction._id.toHexString(),
      status: "active" as const,
      createdAt: new Date(time),
      receivedAt: new Date(time),
      payloadHash: `p${n}`,
      submittedBy: "backend (000000000000000000000000)",
      ...(rng.chance(0.01)
        ? { client: { userAgent: "Mozilla/5.0 (compatible; bingbot/2.0)" } }
        : {}),
    };
    let doc: FeedbackDoc;
    if (previous && rng.chance(0.02)) {
      // A double submission: the same feedback again a moment later.
      doc = {
        ...previous,
        _id: id(base * 1000 + (time - start), 1_000_000 + n),
        createdAt: new Date(time),
        receivedAt: new Date(time),
      };
    } else if (roll < 0.4) {
      const positive = rng.chance(0.7);
      doc = {
        ...common,
        kind: "binary",
        binary: { positive },
        sentiment: positive ? "positive" : "negative",
      };
    } else if (roll < 0.6) {
      const score = rng.int(1, 5);
      doc = {
        ...common,
        kind: "rating",
        key: "rating",
        rating: { score, min: 1, max: 5, normalized: (score - 1) / 4 },
        sentiment: score >= 4 ? "positive" : score <= 2 ? "negative" : "neutral",
      };
    } else if (roll < 0.9) {
      const text =
        user === "u_flooder" ? "Visit example.com for free credits now!!!" : rng.pick(COMMENTS);
      doc = {
        ...common,
        kind: "comment",
        key: "comment",
        comment: text,
        sentiment: text.startsWith("Thanks") ? "positive" : "negative",
        ...(text.length >= 20 ? { textHash: `t${text.length}${text.charCodeAt(5)}` } : {}),
      };
    } else if (roll < 0.95) {
      const category = rng.pick(["safety", "accuracy"] as const);
      doc = {
        ...common,
        kind: "flag",
        key: "flag",
        flag: { category, severity: rng.pick(["low", "medium", "high", "critical"] as const) },
        category,
        sentiment: "negative",
      };
    } else {
      doc = {
        ...common,
        kind: "correction",
        key: "correction",
        correction: {
          originalResponse: interaction.response,
          correctedResponse: `A better answer ${rng.int(1, 5)}`,
        },
        sentiment: "negative",
      };
    }
    feedback.push(doc);
    previous = doc;
  }
  feedback.sort((a, b) => a._id.toHexString().localeCompare(b._id.toHexString()));
  return { interactions, feedback };
}
