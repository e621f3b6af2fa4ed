import type { ObjectId } from "mongodb";
import { batchLabel, batchOf, CONSISTENCY_THRESHOLD } from "../pipeline/agreement-reports.js";
import type { DatasetKind, SnapshotOptions } from "../store/dataset-docs.js";
import type { FeedbackDoc, FeedbackKind, InteractionDoc } from "../store/documents.js";
import { type DatasetFormat, type Message, messageSchema } from "./formats.js";
import { splitPoint } from "./split.js";

/**
 * The training-data builders: pure functions from the feedback a snapshot read (already filtered,
 * usable, sorted by id) and the interactions it is about, to candidate rows. One rule per dataset
 * kind, following the seed's "Training Data Generation from Feedback" table and its "Preference
 * Data Quality Rules": a pair needs a clear quality difference, ambiguous judgements (ties, split
 * votes, middling scores, identical texts) are dropped, and pairs of keys or batches whose
 * agreement is flagged are held out.
 */

export type SourceFeedback = Pick<
  FeedbackDoc,
  | "_id"
  | "kind"
  | "key"
  | "interactionId"
  | "subject"
  | "raterKey"
  | "category"
  | "binary"
  | "rating"
  | "correction"
  | "comparison"
  | "flag"
  | "metadata"
  | "pipeline"
>;

export type SourceInteraction = Pick<InteractionDoc, "_id" | "query" | "messages" | "response"> & {
  metadata?: { topic?: unknown; difficulty?: unknown };
};

/** Which feedback kinds each dataset kind reads. */
export const feedbackKindsFor: Record<DatasetKind, readonly FeedbackKind[]> = {
  sft: ["correction", "rating"],
  dpo: ["comparison", "correction", "binary", "rating"],
  kto: ["binary", "rating"],
  reward: ["comparison", "correction", "binary", "rating"],
  reward_score: ["rating"],
  negatives: ["binary", "rating", "correction", "flag"],
  rag_gaps: ["binary", "rating", "correction", "comparison", "comment", "flag"],
  safety: ["binary", "rating", "correction", "comparison", "comment", "flag"],
};

/** The TRL row format of each kind and style (see formats.ts). */
export function formatOf(kind: DatasetKind, style: SnapshotOptions["style"]): DatasetFormat {
  switch (kind) {
    case "sft":
      return style === "conversational" ? "sftMessages" : "sft";
    case "dpo":
      return "dpo";
    case "kto":
      return "kto";
    case "reward":
      return "reward";
    case "reward_score":
      return "rewardScore";
    case "negatives":
      return "negatives";
    case "rag_gaps":
      return "ragGaps";
    case "safety":
      return "safety";
  }
}

export interface Candidate {
  /** Identifies the row across rebuilds: its split and order derive from it. */
  readonly stableId: string;
  readonly feedbackIds: ObjectId[];
  /** The feedback kind(s) it came from. */
  readonly source: string;
  /** Topic and difficulty of the interaction, for balancing. */
  readonly topic: string | null;
  readonly difficulty: string | null;
  readonly row: Record<string, unknown>;
}

export interface BuildResult {
  readonly candidates: Candidate[];
  /** Judgements dropped as ambiguous: ties, split votes, middling scores, no clear difference. */
  readonly ambiguous: number;
  /** Pairs held out because their key's or batch's agreement is flagged. */
  readonly lowAgreement: number;
  /** Signals without the other half a row needs (a knowledge gap without a correct answer). */
  readonly incomplete: number;
  readonly heldOutKeys: string[];
  readonly heldOutBatches: string[];
}

export interface BuildInput {
  readonly kind: DatasetKind;
  readonly options: SnapshotOptions;
  readonly feedback: readonly SourceFeedback[];
  readonly interactions: ReadonlyMap<string, SourceInteraction>;
  readonly flagged: { readonly keys: ReadonlySet<string>; readonly batches: ReadonlySet<string> };
}

const present = (text: string | undefined): text is string =>
  typeof text === "string" && text.trim().length > 0;
const sameText = (a: string, b: string) => a.trim() === b.trim();
const stringOrNull = (value: unknown) =>
  typeof value === "string" && value.length > 0 ? value : null;
const joinKinds = (kinds: Iterable<string>) => [...new Set(kinds)].sort().join("+");
const normalizePrompt = (text: string) => text.trim().replace(/\s+/g, " ").toLowerCase();
const categoryOf = (feedback: SourceFeedback) => feedback.category ?? feedback.pipeline?.category;

/** A vote on one answer: binary up = 1, down = 0; ratings normalized to [0, 1]. */
interface Vote {
  readonly feedback: SourceFeedback;
  readonly score: number;
}
type Verdict = "good" | "bad" | "middle" | "mixed";

function voteOf(feedback: SourceFeedback): Vote | null {
  if (feedback.kind === "binary" && feedback.binary)
    return { feedback, score: feedback.binary.positive ? 1 : 0 };
  if (feedback.kind === "rating" && feedback.rating)
    return { feedback, score: feedback.rating.normalized };
  return null;
}

export function buildCandidates(input: BuildInput): BuildResult {
  const { options, interactions, flagged } = input;
  const style = options.style;
  let ambiguous = 0;
  let lowAgreement = 0;
  let incomplete = 0;
  const heldOutKeys = new Set<string>();
  const heldOutBatches = new Set<string>();

  /** Whether any of these feedback's key or batch has flagged agreement (and notes which). */
  const isHeldOut = (feedback: readonly SourceFeedback[]) => {
    let held = false;
    for (const entry of feedback) {
      if (flagged.keys.has(entry.key)) {
        heldOutKeys.add(entry.key);
        held = true;
      }
      const batch = batchOf(entry);
      if (batch && flagged.batches.has(batchLabel(entry.key, batch))) {
        heldOutBatches.add(batchLabel(entry.key, batch));
        held = true;
      }
    }
    return held;
  };

  const interactionOf = (id: ObjectId | undefined) =>
    id ? interactions.get(id.toHexString()) : undefined;

  const promptMessages = (interaction: SourceInteraction | undefined, text: string): Message[] => {
    const messages = (interaction?.messages ?? [])
      .map((message) => ({ role: message.role, content: message.content }))
      .filter((message) => messageSchema.safeParse(message).success) as Message[];
    // The stored conversation may end with the answer itself; the prompt stops before it.
    const last = messages.at(-1);
    if (last?.role === "assistant" && interaction && sameText(last.content, interaction.response))
      messages.pop();
    return messages.length > 0 ? messages : [{ role: "user", content: text }];
  };
  const prompt = (interaction: SourceInteraction | undefined, text: string) =>
    style === "conversational" ? promptMessages(interaction, text) : text;
  const answer = (text: string) =>
    style === "conversational" ? [{ role: "assistant", content: text }] : text;
  /** An implicit-prompt side (RewardTrainer): the whole exchange. */
  const exchange = (
    interaction: SourceInteraction | undefined,
    promptText: string,
    text: string,
  ) =>
    style === "conversational"
      ? [...promptMessages(interaction, promptText), { role: "assistant", content: text }]
      : `${promptText}\n\n${text}`;

  const candidates: Candidate[] = [];
  const add = (
    stableId: string,
    feedback: readonly SourceFeedback[],
    interaction: SourceInteraction | undefined,
    row: Record<string, unknown>,
  ) =>
    candidates.push({
      stableId,
      feedbackIds: feedback.map((entry) => entry._id),
      source: joinKinds(feedback.map((entry) => entry.kind)),
      topic: stringOrNull(interaction?.metadata?.topic),
      difficulty: stringOrNull(interaction?.metadata?.difficulty),
      row,
    });

  /** A row about one answer and its votes (KTO, reward scores): its prompt, completion and more. */
  const addAnswer = (
    id: string,
    interaction: SourceInteraction,
    votes: readonly Vote[],
    extra: Record<string, unknown>,
  ) => {
    if (!present(interaction.query) || !present(interaction.response)) {
      incomplete += 1;
      return;
    }
    add(
      `answer:${id}`,
      votes.map((vote) => vote.feedback),
      interaction,
      {
        prompt: prompt(interaction, interaction.query),
        completion: answer(interaction.response),
        ...extra,
      },
    );
  };

  // Per-answer groupings shared by several kinds.
  const byInteraction = new Map<string, SourceFeedback[]>();
  for (const entry of input.feedback) {
    if (!entry.interactionId || entry.kind === "comparison") continue;
    const id = entry.interactionId.toHexString();
    push(byInteraction, id, entry);
  }
  const verdictOf = (votes: readonly Vote[]): Verdict => {
    const classes = votes.map((vote) =>
      vote.score >= options.highRating
        ? "good"
        : vote.score <= options.lowRating
          ? "bad"
          : "middle",
    );
    const tally = new Map<string, number>();
    for (const name of classes) tally.set(name, (tally.get(name) ?? 0) + 1);
    const [top, count] = [...tally.entries()].sort((x, y) => y[1] - x[1])[0]!;
    // One rater's voice, or a consensus above the seed's agreement threshold.
    if (count === votes.length || count / votes.length > CONSISTENCY_THRESHOLD)
      return top as Verdict;
    return "mixed";
  };
  const mean = (votes: readonly Vote[]) =>
    votes.reduce((total, vote) => total + vote.score, 0) / votes.length;
  const votesOf = (feedback: readonly SourceFeedback[], kinds: readonly FeedbackKind[]) =>
    feedback
      .filter((entry) => kinds.includes(entry.kind))
      .map(voteOf)
      .filter((vote): vote is Vote => vote !== null);
  const corrections = (feedback: readonly SourceFeedback[]) =>
    feedback.filter(
      (entry) =>
        entry.kind === "correction" &&
        entry.correction &&
        present(entry.correction.correctedResponse),
    );

  const pairs = () => {
    // 1. Side-by-side comparisons, one pair per compared couple (all raters' votes together).
    const bySubject = new Map<string, SourceFeedback[]>();
    for (const entry of input.feedback) {
      if (entry.kind !== "comparison" || !entry.comparison) continue;
      push(bySubject, entry.subject, entry);
    }
    for (const [subject, votes] of bySubject) {
      const sideKey = (side: { interactionId?: ObjectId; text: string }) =>
        side.interactionId ? side.interactionId.toHexString() : `text:${side.text}`;
      const texts = new Map<string, { text: string; interactionId?: ObjectId }>();
      const tally = new Map<string, number>();
      const strengths: number[] = [];
      for (const vote of votes) {
        const comparison = vote.comparison!;
        texts.set(sideKey(comparison.a), comparison.a);
        texts.set(sideKey(comparison.b), comparison.b);
        const winner =
          comparison.preferred === "tie"
            ? "tie"
            : sideKey(comparison.preferred === "a" ? comparison.a : comparison.b);
        tally.set(winner, (tally.get(winner) ?? 0) + 1);
        if (comparison.strength !== undefined) strengths.push(comparison.strength);
      }
      const [winner, count] = [...tally.entries()].sort(
        (x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1),
      )[0]!;
      const clear = count === votes.length || count / votes.length > CONSISTENCY_THRESHOLD;
      const strength =
        strengths.length > 0 ? strengths.reduce((a, b) => a + b, 0) / strengths.length : 1;
      const loserKey = [...texts.keys()].find((key) => key !== winner);
      const chosen = texts.get(winner);
      const rejected = loserKey ? texts.get(loserKey) : undefined;
      if (
        winner === "tie" ||
        !clear ||
        strength < options.minStrength ||
        !chosen ||
        !rejected ||
        sameText(chosen.text, rejected.text)
      ) {
        ambiguous += 1;
        continue;
      }
      if (isHeldOut(votes)) {
        lowAgreement += 1;
        continue;
      }
      const promptText = votes[0]!.comparison!.prompt;
      if (!present(promptText) || !present(chosen.text) || !present(rejected.text)) {
        incomplete += 1;
        continue;
      }
      const context = interactionOf(chosen.interactionId) ?? interactionOf(rejected.interactionId);
      emitPair(`comparison:${subject}`, votes, context, promptText, chosen.text, rejected.text);
    }
    // 2. Corrections: the corrected answer over the original.
    for (const entry of corrections(input.feedback)) {
      const interaction = interactionOf(entry.interactionId);
      const { originalResponse, correctedResponse } = entry.correction!;
      if (!interaction || !present(interaction.query) || !present(originalResponse)) {
        incomplete += 1;
        continue;
      }
      if (sameText(originalResponse, correctedResponse)) {
        ambiguous += 1;
        continue;
      }
      if (isHeldOut([entry])) {
        lowAgreement += 1;
        continue;
      }
      emitPair(
        `correction:${entry._id.toHexString()}`,
        [entry],
        interaction,
        interaction.query,
        correctedResponse,
        originalResponse,
      );
    }
    // 3. Good and bad answers to the same prompt, paired from both ends of the score range.
    const byPrompt = new Map<string, Array<{ id: string; votes: Vote[]; score: number }>>();
    for (const [id, feedback] of byInteraction) {
      const interaction = interactions.get(id);
      const votes = votesOf(feedback, ["binary", "rating"]);
      if (!interaction || votes.length === 0 || !present(interaction.query)) continue;
      if (verdictOf(votes) === "mixed") {
        ambiguous += 1;
        continue;
      }
      const group = normalizePrompt(interaction.query);
      push(byPrompt, group, { id, votes, score: mean(votes) });
    }
    for (const group of byPrompt.values()) {
      if (group.length < 2) continue;
      group.sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1));
      let paired = false;
      for (let best = 0, worst = group.length - 1; best < worst; best++, worst--) {
        const good = group[best]!;
        const bad = group[worst]!;
        const goodAnswer = interactions.get(good.id)!;
        const badAnswer = interactions.get(bad.id)!;
        if (
          good.score - bad.score < options.minScoreGap ||
          !present(goodAnswer.response) ||
          !present(badAnswer.response) ||
          sameText(goodAnswer.response, badAnswer.response)
        )
          break;
        const feedback = [...good.votes, ...bad.votes].map((vote) => vote.feedback);
        paired = true;
        if (isHeldOut(feedback)) {
          lowAgreement += 1;
          continue;
        }
        emitPair(
          `answers:${good.id}|${bad.id}`,
          feedback,
          goodAnswer,
          goodAnswer.query,
          goodAnswer.response,
          badAnswer.response,
        );
      }
      // Answers to one prompt without a clear quality difference between any two of them.
      if (!paired) ambiguous += 1;
    }
  };

  const emitPair = (
    stableId: string,
    feedback: readonly SourceFeedback[],
    interaction: SourceInteraction | undefined,
    promptText: string,
    chosen: string,
    rejected: string,
  ) => {
    if (input.kind === "reward") {
      add(stableId, feedback, interaction, {
        chosen: exchange(interaction, promptText, chosen),
        rejected: exchange(interaction, promptText, rejected),
      });
    } else {
      add(stableId, feedback, interaction, {
        prompt: prompt(interaction, promptText),
        chosen: answer(chosen),
        rejected: answer(rejected),
      });
    }
  };

  switch (input.kind) {
    case "sft": {
      for (const entry of corrections(input.feedback)) {
        const interaction = interactionOf(entry.interactionId);
        if (!interaction || !present(interaction.query)) {
          incomplete += 1;
          continue;
        }
        const completion = entry.correction!.correctedResponse;
        add(
          `correction:${entry._id.toHexString()}`,
          [entry],
          interaction,
          sftRow(interaction, completion),
        );
      }
      for (const [id, feedback] of byInteraction) {
        const interaction = interactions.get(id);
        const votes = votesOf(feedback, ["rating"]);
        // A corrected answer is not a good one, whatever its ratings.
        if (!interaction || votes.length === 0 || corrections(feedback).length > 0) continue;
        const verdict = verdictOf(votes);
        if (verdict === "mixed") ambiguous += 1;
        if (verdict !== "good") continue;
        if (!present(interaction.query) || !present(interaction.response)) {
          incomplete += 1;
          continue;
        }
        add(
          `answer:${id}`,
          votes.map((vote) => vote.feedback),
          interaction,
          sftRow(interaction, interaction.response),
        );
      }
      break;
    }
    case "dpo":
    case "reward":
      pairs();
      break;
    case "kto":
      for (const [id, feedback] of byInteraction) {
        const interaction = interactions.get(id);
        const votes = votesOf(feedback, ["binary", "rating"]);
        if (!interaction || votes.length === 0) continue;
        const verdict = verdictOf(votes);
        if (verdict === "mixed" || verdict === "middle") {
          ambiguous += 1;
          continue;
        }
        addAnswer(id, interaction, votes, { label: verdict === "good" });
      }
      break;
    case "reward_score":
      for (const [id, feedback] of byInteraction) {
        const interaction = interactions.get(id);
        const votes = votesOf(feedback, ["rating"]);
        if (!interaction || votes.length === 0) continue;
        const scores = votes.map((vote) => vote.score);
        // Raters more than half the scale apart do not give the answer one score.
        if (Math.max(...scores) - Math.min(...scores) > 0.5) {
          ambiguous += 1;
          continue;
        }
        addAnswer(id, interaction, votes, { score: Math.round(mean(votes) * 1e6) / 1e6 });
      }
      break;
    case "negatives":
      for (const [id, feedback] of byInteraction) {
        const interaction = interactions.get(id);
        if (!interaction) continue;
        const votes = votesOf(feedback, ["binary", "rating"]);
        const corrected = corrections(feedback);
        const accuracyFlags = feedback.filter(
          (entry) => entry.kind === "flag" && entry.flag?.category === "accuracy",
        );
        const verdict = votes.length > 0 ? verdictOf(votes) : null;
        const evidence = [
          ...corrected,
          ...accuracyFlags,
          ...(verdict === "bad" ? votes.map((vote) => vote.feedback) : []),
        ];
        if (evidence.length === 0) {
          if (verdict === "mixed") ambiguous += 1;
          continue;
        }
        if (!present(interaction.query) || !present(interaction.response)) {
          incomplete += 1;
          continue;
        }
        add(`answer:${id}`, evidence.sort(byId), interaction, {
          prompt: prompt(interaction, interaction.query),
          completion: answer(interaction.response),
        });
      }
      break;
    case "rag_gaps":
    case "safety": {
      const category = input.kind === "rag_gaps" ? "knowledge_gap" : "safety";
      for (const [id, feedback] of byInteraction) {
        const interaction = interactions.get(id);
        const signals = feedback.filter(
          (entry) =>
            categoryOf(entry) === category ||
            (category === "safety" && entry.kind === "flag" && entry.flag?.category === "safety"),
        );
        if (!interaction || signals.length === 0) continue;
        // The newest correction is the answer that should have been given.
        const fix = corrections(feedback).at(-1);
        if (!fix || !present(interaction.query)) {
          incomplete += 1;
          continue;
        }
        const corrected = fix.correction!.correctedResponse;
        const evidence = [...new Set([...signals, fix])].sort(byId);
        if (input.kind === "rag_gaps") {
          add(`gap:${id}`, evidence, interaction, {
            question: interaction.query,
            answer: corrected,
          });
        } else {
          if (!present(interaction.response) || sameText(interaction.response, corrected)) {
            ambiguous += 1;
            continue;
          }
          add(`safety:${id}`, evidence, interaction, {
            prompt: prompt(interaction, interaction.query),
            chosen: answer(corrected),
            rejected: answer(interaction.response),
          });
        }
      }
      break;
    }
  }

  function sftRow(interaction: SourceInteraction, completion: string) {
    return style === "conversational"
      ? {
          messages: [
            ...promptMessages(interaction, interaction.query),
            { role: "assistant", content: completion },
          ],
        }
      : { prompt: interaction.query, completion };
  }

  return {
    candidates,
    ambiguous,
    lowAgreement,
    incomplete,
    heldOutKeys: [...heldOutKeys].sort(),
    heldOutBatches: [...heldOutBatches].sort(),
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const byId = (x: SourceFeedback, y: SourceFeedback) =>
  x._id.toHexString() < y._id.toHexString() ? -1 : 1;

/**
 * Keeps as many rows of every topic/difficulty group as the smallest group has, choosing them by
 * a seeded hash so the choice is stable across rebuilds. Returns the kept rows and how many went.
 */
export function balance(
  candidates: readonly Candidate[],
  by: SnapshotOptions["balanceBy"],
  seed: number,
): { kept: Candidate[]; dropped: number } {
  if (by.length === 0 || candidates.length === 0) return { kept: [...candidates], dropped: 0 };
  const groupOf = (candidate: Candidate) =>
    by.map((field) => candidate[field] ?? "(none)").join("\u0000");
  const groups = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    push(groups, groupOf(candidate), candidate);
  }
  const size = Math.min(...[...groups.values()].map((group) => group.length));
  const kept = [...groups.values()].flatMap((group) =>
    group
      .map((candidate) => ({ candidate, at: splitPoint(`balance:${candidate.stableId}`, seed) }))
      .sort((x, y) => x.at - y.at)
      .slice(0, size)
      .map(({ candidate }) => candidate),
  );
  return { kept, dropped: candidates.length - kept.length };
}
