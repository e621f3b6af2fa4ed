/**
 * What goes to human review: the interactions of open `expert_review` routed items (the
 * pipeline's routing, CONTRACTS §2) and of open conflicts, with what a reviewer needs beside the
 * answer (alternative answers from corrections and comparisons) and what a model already thinks
 * (the LLM judge's rating and category, as suggestions / predictions).
 *
 * Pages are keyed by the source document's `_id`, so a sync resumes after the last page it pushed.
 */
import { type Db, ObjectId } from "mongodb";
import type { FailureCategory, FeedbackDoc, InteractionDoc } from "../../store/documents.js";
import type { Collections } from "../../store/mongo.js";
import { emptyCounts, type SyncRun } from "./context.js";
import type { RunCounts } from "./state.js";

/** The routed-item shape the pipeline stores (CONTRACTS §2); only the fields read here. */
export interface RoutedItemView {
  _id: ObjectId;
  route: string;
  state: "open" | "closed";
  category: FailureCategory | null;
  priority: number;
  interactionIds: ObjectId[];
  reason: string;
}

/** The review tasks: one Argilla dataset and one set of Label Studio projects each. */
export const reviewTasks = ["expert_review", "conflict"] as const;
export type ReviewTask = (typeof reviewTasks)[number];

export interface ReviewItem {
  readonly task: ReviewTask;
  /** The routed item or conflict this came from. */
  readonly sourceId: string;
  readonly interaction: InteractionDoc;
  readonly alternatives: readonly string[];
  readonly reason: string;
  readonly priority: number;
  readonly category: FailureCategory | null;
  /** The LLM judge's view, when it gave one. */
  readonly suggestion?: { rating?: number; category?: FailureCategory; agent: string };
}

export const ROUTED_ITEMS = "routedItems";

/** One page of review items of a task after `afterId` (a source document id), in id order. */
export async function reviewPage(
  collections: Collections,
  db: Db,
  task: ReviewTask,
  afterId: string | undefined,
  limit: number,
): Promise<{ items: ReviewItem[]; lastId: string | undefined }> {
  const after = afterId ? { _id: { $gt: new ObjectId(afterId) } } : {};
  const sources: Array<{
    id: ObjectId;
    interactionIds: ObjectId[];
    reason: string;
    priority: number;
    category: FailureCategory | null;
  }> = [];
  if (task === "expert_review") {
    const routed = await db
      .collection<RoutedItemView>(ROUTED_ITEMS)
      .find({ route: "expert_review", state: "open", ...after }, { sort: { _id: 1 }, limit })
      .toArray();
    for (const item of routed)
      sources.push({
        id: item._id,
        interactionIds: item.interactionIds,
        reason: item.reason,
        priority: item.priority,
        category: item.category,
      });
  } else {
    const conflicts = await collections.conflicts
      .find({ status: "open", ...after }, { sort: { _id: 1 }, limit })
      .toArray();
    for (const conflict of conflicts)
      sources.push({
        id: conflict._id,
        interactionIds: [conflict.interactionId],
        reason: `raters disagree (${conflict.reasons.join(", ")}): ${conflict.positive} positive, ${conflict.negative} negative`,
        // More raters in disagreement: more worth a reviewer's time.
        priority: conflict.raterCount,
        category: null,
      });
  }
  const lastId = sources.at(-1)?.id.toHexString();
  const ids = [
    ...new Map(
      sources.flatMap((s) => s.interactionIds).map((id) => [id.toHexString(), id]),
    ).values(),
  ];
  if (ids.length === 0) return { items: [], lastId };
  const [interactions, related] = await Promise.all([
    collections.interactions.find({ _id: { $in: ids } }).toArray(),
    collections.feedback
      .find(
        {
          interactionIds: { $in: ids },
          status: "active",
          $or: [{ kind: { $in: ["correction", "comparison"] } }, { source: "llm_judge" }],
        },
        {
          projection: {
            kind: 1,
            source: 1,
            interactionId: 1,
            correction: 1,
            comparison: 1,
            rating: 1,
            binary: 1,
            category: 1,
            key: 1,
          },
        },
      )
      .toArray(),
  ]);
  const byId = new Map(interactions.map((doc) => [doc._id.toHexString(), doc]));
  const feedbackOf = new Map<string, FeedbackDoc[]>();
  for (const doc of related) {
    const key = doc.interactionId?.toHexString();
    if (key) feedbackOf.set(key, [...(feedbackOf.get(key) ?? []), doc]);
  }
  const items: ReviewItem[] = [];
  for (const source of sources)
    for (const id of source.interactionIds) {
      const interaction = byId.get(id.toHexString());
      // Erased or not stored: nothing to review.
      if (!interaction) continue;
      const feedback = feedbackOf.get(id.toHexString()) ?? [];
      const suggestion = judgeSuggestion(feedback);
      items.push({
        task,
        sourceId: source.id.toHexString(),
        interaction,
        alternatives: alternativesOf(interaction, feedback),
        reason: source.reason.slice(0, 500),
        priority: source.priority,
        category: source.category,
        ...(suggestion ? { suggestion } : {}),
      });
    }
  return { items, lastId };
}

function alternativesOf(interaction: InteractionDoc, feedback: FeedbackDoc[]): string[] {
  const texts = new Set<string>();
  for (const doc of feedback) {
    if (doc.correction) texts.add(doc.correction.correctedResponse);
    if (doc.comparison)
      for (const side of [doc.comparison.a, doc.comparison.b])
        if (!side.interactionId?.equals(interaction._id)) texts.add(side.text);
  }
  texts.delete(interaction.response);
  return [...texts].filter((text) => text.trim() !== "").slice(0, 5);
}

/** The newest LLM-judge rating on a 1–5 scale and its category. */
function judgeSuggestion(feedback: FeedbackDoc[]): ReviewItem["suggestion"] | undefined {
  const judged = feedback.filter((doc) => doc.source === "llm_judge");
  const last = judged.at(-1);
  if (!last) return undefined;
  const normalized =
    last.rating?.normalized ?? (last.binary ? (last.binary.positive ? 1 : 0) : undefined);
  return {
    agent: `loopgate-judge-${last.key}`.replace(/[^a-zA-Z0-9-_:./\s]/g, "_").slice(0, 200),
    ...(normalized === undefined ? {} : { rating: 1 + Math.round(normalized * 4) }),
    ...(last.category ? { category: last.category } : {}),
  };
}

/** The text shown as the prompt: the query, or the chat's last user message. */
export function promptOf(interaction: InteractionDoc): string {
  return interaction.query;
}

/** Where a push stands: the review task, and the last source id of it already pushed. */
export interface ReviewPosition {
  readonly taskIndex: number;
  readonly afterId: string | undefined;
}

/**
 * One push pass over every review task's items, a page at a time, resuming where the run's
 * cursor says (`{ taskIndex, afterId }`). `pushPage` sends one page and returns its counts (it may
 * save a write-ahead cursor of its own first, given the page's position); the cursor moves past
 * the page only after it, past a task at its end, and is cleared when the pass is complete, so
 * the next run walks the open items again from the start.
 */
export async function pushReviewItems(
  run: SyncRun,
  source: { readonly collections: Collections; readonly db: Db; readonly pageSize: number },
  pushPage: (task: ReviewTask, items: ReviewItem[], at: ReviewPosition) => Promise<RunCounts>,
  /** Runs as a task's walk begins (also when it has no items), e.g. to create its dataset. */
  startTask?: (task: ReviewTask) => Promise<void>,
): Promise<void> {
  let taskIndex = Number(run.cursor.taskIndex ?? 0);
  let afterId = (run.cursor.afterId as string | null | undefined) ?? undefined;
  while (taskIndex < reviewTasks.length) {
    const task = reviewTasks[taskIndex]!;
    await startTask?.(task);
    for (;;) {
      const { items, lastId } = await reviewPage(
        source.collections,
        source.db,
        task,
        afterId,
        source.pageSize,
      );
      if (lastId === undefined) break;
      const counts = await pushPage(task, items, { taskIndex, afterId });
      afterId = lastId;
      await run.save({ taskIndex, afterId }, counts);
    }
    taskIndex += 1;
    afterId = undefined;
    await run.save({ taskIndex, afterId: null }, emptyCounts());
  }
  await run.save({}, emptyCounts());
}
