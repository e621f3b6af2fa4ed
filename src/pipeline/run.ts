import type { AnyBulkWriteOperation, ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type {
  FeedbackDoc,
  InteractionDoc,
  PipelineResult,
  RaterTrustDoc,
  RouteName,
} from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { type Categorizer, categorize, compileRules } from "./categorize.js";
import type { PipelineConfig } from "./config.js";
import { findDuplicates } from "./dedup.js";
import { groupKeyOf, priorityOf, severityOf } from "./priority.js";
import { consensusVotes, qualityScore, trustOf } from "./quality.js";
import { routeOf } from "./route.js";
import { joinRoutedItems, type RoutedJoin } from "./routed-items.js";
import { spamVerdict, type WindowEntry } from "./spam.js";

/**
 * The pipeline definition's version, stored in every result: bump it when a stage changes what
 * it decides, so results of an older definition can be told apart (and re-run by a backfill).
 */
export const PIPELINE_VERSION = 1;

/** What one batch decided, for metrics and tests. */
export interface BatchOutcome {
  readonly processed: number;
  readonly duplicates: number;
  readonly filtered: number;
  readonly routed: Partial<Record<RouteName, number>>;
  /** Feedback newly routed to the guardrail in this batch (their events are queued). */
  readonly guardrail: readonly ObjectId[];
}

export interface PipelineRunDeps {
  readonly collections: Pick<
    Collections,
    "feedback" | "interactions" | "conflicts" | "routedItems" | "raterTrust" | "raterVotes"
  >;
  readonly clock: Clock;
  readonly config: PipelineConfig;
  /** Categorizers after the rules (an LLM judge), handed in by the composition root. */
  readonly categorizers: readonly Categorizer[];
  /** Queues the guardrail event of a feedback newly routed there (idempotent per feedback). */
  readonly guardrail: (feedback: FeedbackDoc, result: PipelineResult) => Promise<void>;
  /** Told about a categorizer that failed (the feedback stays uncategorized by it). */
  readonly categorizerFailed: (error: unknown) => void;
}

/** Everything but the original's full text, which no stage reads. */
const siblingProjection = { "correction.originalResponse": 0 } as const;

const hex = (id: ObjectId) => id.toHexString();

/**
 * Processes one batch of feedback through every stage — dedup → spam filter → quality →
 * categorization → priority → router — with a constant number of database round trips per batch:
 * the reads are bulk (`$in`), the writes are bulk, and the feedback's own result is written last,
 * so a crash leaves the batch to be run again. Running it again is harmless: every stage is a
 * function of stored data, and side effects (joining a routed item, the guardrail event) happen
 * only when the stored result did not already have that route and group.
 */
export function createBatchRunner(deps: PipelineRunDeps) {
  const { collections, config } = deps;
  const rules = compileRules(config.categoryRules);

  return async function runBatch(
    batch: readonly FeedbackDoc[],
    options: { clearMarker: boolean },
  ): Promise<BatchOutcome> {
    if (batch.length === 0) {
      return { processed: 0, duplicates: 0, filtered: 0, routed: {}, guardrail: [] };
    }
    const now = deps.clock.now();
    const interactionIds = [
      ...new Map(
        batch.flatMap((f) => f.interactionIds).map((id) => [hex(id), id] as const),
      ).values(),
    ];
    const raters = [...new Set(batch.flatMap((f) => (f.raterKey ? [f.raterKey] : [])))];
    const times = batch.map((f) => f.receivedAt.getTime());
    const latest = new Date(Math.max(...times));
    const earliest = Math.min(...times);
    const windowQuery = spamWindowQuery(batch, config, earliest, latest);

    const [interactionDocs, siblings, window, trustDocs, conflicts] = await Promise.all([
      collections.interactions.find({ _id: { $in: interactionIds } }).toArray(),
      collections.feedback
        .find({ interactionIds: { $in: interactionIds } }, { projection: siblingProjection })
        .toArray(),
      windowQuery
        ? collections.feedback
            .find(windowQuery, {
              projection: {
                _id: 1,
                userId: 1,
                submittedBy: 1,
                textHash: 1,
                receivedAt: 1,
                "client.ip": 1,
              },
            })
            .toArray()
        : Promise.resolve([]),
      raters.length > 0
        ? collections.raterTrust.find({ _id: { $in: raters } }).toArray()
        : Promise.resolve([]),
      collections.conflicts
        .find(
          { interactionId: { $in: interactionIds }, status: "open" },
          { projection: { interactionId: 1 } },
        )
        .toArray(),
    ]);
    const interactions = new Map(interactionDocs.map((doc) => [hex(doc._id), doc]));
    const trust = new Map<string, RaterTrustDoc>(trustDocs.map((doc) => [doc._id, doc]));
    const openConflicts = new Set(conflicts.map((c) => hex(c.interactionId)));

    // Stage 1 and 2: duplicates and spam, each a pure function of stored data.
    const duplicates = findDuplicates(batch, siblings as FeedbackDoc[]);
    const interactionOf = (feedback: FeedbackDoc): InteractionDoc | null =>
      (feedback.interactionId && interactions.get(hex(feedback.interactionId))) || null;
    const filtered = new Map(
      batch.map((f) => [
        hex(f._id),
        spamVerdict(f, interactionOf(f), window as WindowEntry[], config),
      ]),
    );

    // Stage 4: categorization (rules, then any judge), for feedback that counts.
    const categories = await Promise.all(
      batch.map((feedback) =>
        duplicates.has(hex(feedback._id)) || filtered.get(hex(feedback._id))
          ? Promise.resolve(null)
          : categorize(
              { feedback, interaction: interactionOf(feedback) },
              rules,
              deps.categorizers,
              deps.categorizerFailed,
            ),
      ),
    );

    // Stage 5 needs the size of each similar-failure group so far: its open routed items.
    const groupKeys = new Map<string, string>();
    batch.forEach((feedback, index) => {
      const found = categories[index];
      if (found)
        groupKeys.set(
          hex(feedback._id),
          groupKeyOf(found.category, feedback, interactionOf(feedback)),
        );
    });
    const distinctGroups = [...new Set(groupKeys.values())];
    const groupCounts = new Map<string, number>();
    if (distinctGroups.length > 0) {
      const open = await collections.routedItems
        .find(
          { groupKey: { $in: distinctGroups }, state: "open" },
          { projection: { groupKey: 1, feedbackCount: 1 } },
        )
        .toArray();
      for (const item of open) {
        groupCounts.set(item.groupKey, (groupCounts.get(item.groupKey) ?? 0) + item.feedbackCount);
      }
    }

    const results = new Map<string, PipelineResult>();
    const joins: RoutedJoin[] = [];
    const guardrail: FeedbackDoc[] = [];
    const routed: Partial<Record<RouteName, number>> = {};
    batch.forEach((feedback, index) => {
      const id = hex(feedback._id);
      const duplicateOf = duplicates.get(id);
      const spam = filtered.get(id) ?? null;
      const quality = qualityScore(
        feedback,
        feedback.raterKey ? trust.get(feedback.raterKey) : undefined,
        spam !== null,
      );
      const found = categories[index] ?? null;
      const groupKey = groupKeys.get(id);
      const previous = feedback.pipeline;
      let priority = 0;
      let route: RouteName | null = null;
      let reason = "";
      if (found && groupKey) {
        const severity = severityOf(found.category, feedback);
        // A member already counted (a re-run) keeps the frequency it was routed with, so a re-run
        // decides as the first run did; new members add themselves to the group.
        const already = previous?.groupKey === groupKey && previous.route !== null;
        let frequency: number;
        if (already) {
          frequency = Math.max(1, Math.round(previous.priority / severity));
        } else {
          frequency = (groupCounts.get(groupKey) ?? 0) + 1;
          groupCounts.set(groupKey, frequency);
        }
        priority = priorityOf(severity, frequency);
        const routing = routeOf({
          feedback,
          category: found.category,
          quality,
          frequency,
          openConflict: feedback.interactionId
            ? openConflicts.has(hex(feedback.interactionId))
            : false,
          config,
        });
        if (routing) ({ route, reason } = routing);
      }
      const result: PipelineResult = {
        version: PIPELINE_VERSION,
        processedAt: now,
        quality,
        category: found?.category ?? null,
        priority,
        route,
      };
      if (duplicateOf) result.duplicateOf = duplicateOf;
      if (spam) result.filtered = { reason: spam.reason, detail: spam.detail };
      if (found) result.categorizedBy = found.by;
      if (groupKey) result.groupKey = groupKey;
      results.set(id, result);
      if (route && groupKey) {
        routed[route] = (routed[route] ?? 0) + 1;
        const sameAsBefore = previous?.route === route && previous.groupKey === groupKey;
        if (!sameAsBefore) {
          joins.push({
            feedback,
            route,
            groupKey,
            category: found?.category ?? null,
            priority,
            reason,
          });
          if (route === "guardrail") guardrail.push(feedback);
        }
      }
    });

    // Stage 3's other half: consensus on the batch's answers moves raters' trust.
    const counted = mergeCounted(siblings as FeedbackDoc[], batch, results);
    const votes = consensusVotes(counted, config.consensusMinRaters);
    await joinRoutedItems(collections.routedItems, joins, now);
    // Writes only what changed: answers with many raters yield the same votes batch after batch.
    const voteId = (vote: { subject: string; rater: string }) => `${vote.subject}|${vote.rater}`;
    const stored =
      votes.length > 0
        ? await collections.raterVotes
            .find({ _id: { $in: votes.map(voteId) } }, { projection: { agrees: 1 } })
            .toArray()
        : [];
    const storedVotes = new Map(stored.map((vote) => [vote._id, vote.agrees]));
    const changed = votes.filter((vote) => storedVotes.get(voteId(vote)) !== vote.agrees);
    if (changed.length > 0) {
      await collections.raterVotes.bulkWrite(
        changed.map((vote) => ({
          updateOne: {
            filter: { _id: voteId(vote) },
            update: {
              $set: {
                rater: vote.rater,
                subject: vote.subject,
                agrees: vote.agrees,
                updatedAt: now,
              },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      );
      const moved = [...new Set(changed.map((vote) => vote.rater))];
      const tallies = await collections.raterVotes
        .aggregate<{ _id: string; agreements: number; total: number }>([
          { $match: { rater: { $in: moved } } },
          {
            $group: {
              _id: "$rater",
              agreements: { $sum: { $cond: ["$agrees", 1, 0] } },
              total: { $sum: 1 },
            },
          },
        ])
        .toArray();
      await collections.raterTrust.bulkWrite(
        tallies.map((tally) => {
          const disagreements = tally.total - tally.agreements;
          return {
            updateOne: {
              filter: { _id: tally._id },
              update: {
                $set: {
                  agreements: tally.agreements,
                  disagreements,
                  trust: trustOf(tally.agreements, disagreements),
                  updatedAt: now,
                },
              },
              upsert: true,
            },
          };
        }),
        { ordered: false },
      );
    }
    for (const feedback of guardrail) {
      await deps.guardrail(feedback, results.get(hex(feedback._id))!);
    }
    // Last: the results (and the marker's removal), so a crash before here runs the batch again.
    const writes: AnyBulkWriteOperation<FeedbackDoc>[] = batch.map((feedback) => ({
      updateOne: {
        filter: { _id: feedback._id },
        update: options.clearMarker
          ? {
              $set: { pipeline: results.get(hex(feedback._id))! },
              $unset: { pipelinePendingSince: "" },
            }
          : { $set: { pipeline: results.get(hex(feedback._id))! } },
      },
    }));
    await collections.feedback.bulkWrite(writes, { ordered: false });
    return {
      processed: batch.length,
      duplicates: [...results.values()].filter((r) => r.duplicateOf).length,
      filtered: [...results.values()].filter((r) => r.filtered).length,
      routed,
      guardrail: guardrail.map((f) => f._id),
    };
  };
}

/** The feedback consensus counts: active, not filtered, not a duplicate (batch results win). */
function mergeCounted(
  siblings: readonly FeedbackDoc[],
  batch: readonly FeedbackDoc[],
  results: ReadonlyMap<string, PipelineResult>,
): FeedbackDoc[] {
  const byId = new Map<string, FeedbackDoc>();
  for (const feedback of [...siblings, ...batch]) byId.set(hex(feedback._id), feedback);
  return [...byId.values()].filter((feedback) => {
    if (feedback.status !== "active") return false;
    const result = results.get(hex(feedback._id)) ?? feedback.pipeline;
    return !result?.duplicateOf && !result?.filtered;
  });
}

/** One read for every burst and flood window the batch needs (each branch has its index). */
function spamWindowQuery(
  batch: readonly FeedbackDoc[],
  config: PipelineConfig,
  earliest: number,
  latest: Date,
) {
  const burstFrom = new Date(earliest - config.burstWindowMs);
  const range = { $gt: burstFrom, $lte: latest };
  const distinct = (values: Array<string | undefined>) => [
    ...new Set(values.filter((value): value is string => Boolean(value))),
  ];
  const users = distinct(batch.map((f) => f.userId));
  const ips = distinct(
    batch.filter((f) => f.submittedBy === "feedbackToken").map((f) => f.client?.ip),
  );
  const keys = distinct(
    batch.filter((f) => f.submittedBy !== "feedbackToken").map((f) => f.submittedBy),
  );
  const texts = distinct(batch.map((f) => f.textHash));
  const branches: Record<string, unknown>[] = [];
  if (config.userBurstMax > 0 && users.length > 0)
    branches.push({ userId: { $in: users }, receivedAt: range });
  if (config.ipBurstMax > 0 && ips.length > 0)
    branches.push({ "client.ip": { $in: ips }, receivedAt: range });
  if (config.keyBurstMax > 0 && keys.length > 0)
    branches.push({ submittedBy: { $in: keys }, receivedAt: range });
  if (config.textFloodMax > 0 && texts.length > 0) {
    branches.push({
      textHash: { $in: texts },
      receivedAt: { $gt: new Date(earliest - config.textFloodWindowMs), $lte: latest },
    });
  }
  return branches.length > 0 ? { $or: branches } : null;
}
