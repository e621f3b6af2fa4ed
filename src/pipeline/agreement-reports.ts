import { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type { AgreementReportDoc } from "../store/dataset-docs.js";
import type { FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import {
  type Category,
  categoryCounts,
  cohensKappa,
  fleissKappa,
  krippendorffAlpha,
  pairwiseAgreement,
} from "./agreement.js";

/**
 * Agreement reports from stored feedback (CONTRACTS §4): per feedback key, per batch of a key
 * (`metadata.batchId`, set by importers such as an annotation campaign) and per pair of raters.
 * An item is what was judged (`subject`: an interaction, or both sides of a comparison); a rater
 * is the feedback's `raterKey`. Only judgements count: binary, rating and comparison feedback that
 * is active and usable (not a duplicate, not filtered by the pipeline).
 *
 * The seed's rule "inter-annotator agreement > 80%" is applied to `consistency`, the share of
 * rater pairs on one item that agreed (for ratings: on the sentiment side of the scale); a report
 * at or below 0.8 is `flagged`, and the dataset builders hold the pairs of a flagged key or batch
 * out of preference data.
 */

/** The job that recomputes reports (one key, or all), on demand and on a schedule. */
export const AGREEMENT_JOB = "agreement.compute";

/** The seed's threshold: preference consistency must exceed it. */
export const CONSISTENCY_THRESHOLD = 0.8;
/** Reports older than this are removed when their key is computed again. */
export const AGREEMENT_KEEP_MS = 30 * 24 * 3_600_000;
/** Rater pairs reported per key (those with the most items in common). */
export const MAX_RATER_PAIRS_PER_KEY = 200;

export const judgementKinds = ["binary", "rating", "comparison"] as const;

export type AgreementScope = AgreementReportDoc["scope"];

export interface AgreementReportFilter {
  readonly key?: string | null;
  readonly scope?: AgreementScope | null;
}

export interface AgreementComputation {
  readonly keys: number;
  readonly reports: number;
  readonly flagged: number;
  readonly computedAt: Date;
}

export interface AgreementReportService {
  /** Recomputes the reports of one key, or of every key with judgements; stores them. */
  compute(options?: {
    key?: string | null;
    onKey?: (key: string, done: number, of: number) => Promise<void> | void;
  }): Promise<AgreementComputation>;
  /** The newest report per key, batch or rater pair, most flagged (lowest consistency) first. */
  latest(filter: AgreementReportFilter, limit: number): Promise<AgreementReportDoc[]>;
  /** Keys and batches whose newest report is flagged: their pairs stay out of DPO data. */
  flagged(): Promise<{ keys: Set<string>; batches: Set<string> }>;
}

/** A batch is identified across keys by `<key>/<batchId>`. */
export const batchLabel = (key: string, batchId: string) => `${key}/${batchId}`;

/** The batch a feedback belongs to, when its importer named one. */
export function batchOf(feedback: Pick<FeedbackDoc, "metadata">): string | undefined {
  const value = feedback.metadata?.batchId;
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

export function isUsable(feedback: Pick<FeedbackDoc, "pipeline">): boolean {
  return !feedback.pipeline?.duplicateOf && !feedback.pipeline?.filtered;
}

interface Judgement {
  readonly rater: string;
  /** The category compared for consistency (sentiment for ratings, the winner for comparisons). */
  readonly category: Category;
  /** A rating's score, for Krippendorff's ordinal α. */
  readonly score?: number;
}

type JudgedFeedback = Pick<
  FeedbackDoc,
  | "_id"
  | "kind"
  | "key"
  | "subject"
  | "raterKey"
  | "sentiment"
  | "binary"
  | "rating"
  | "comparison"
  | "metadata"
  | "pipeline"
>;

/** What a judgement says, in a form comparable across raters of the same item. */
function judgementOf(feedback: JudgedFeedback): Omit<Judgement, "rater"> | null {
  switch (feedback.kind) {
    case "binary":
      return feedback.binary
        ? { category: feedback.binary.positive ? "positive" : "negative" }
        : null;
    case "rating":
      return feedback.rating
        ? { category: feedback.sentiment, score: feedback.rating.score }
        : null;
    case "comparison": {
      const comparison = feedback.comparison;
      if (!comparison) return null;
      if (comparison.preferred === "tie") return { category: "tie" };
      const side = comparison.preferred === "a" ? comparison.a : comparison.b;
      return {
        category: side.interactionId ? side.interactionId.toHexString() : `text:${side.text}`,
      };
    }
    default:
      return null;
  }
}

/** Items (subject → one judgement per rater, the newest stored wins) of a set of feedback. */
function itemsOf(feedback: readonly JudgedFeedback[]): Map<string, Map<string, Judgement>> {
  const items = new Map<string, Map<string, Judgement>>();
  for (const entry of feedback) {
    if (!entry.raterKey || !isUsable(entry)) continue;
    const judgement = judgementOf(entry);
    if (!judgement) continue;
    const item = items.get(entry.subject) ?? new Map<string, Judgement>();
    item.set(entry.raterKey, { rater: entry.raterKey, ...judgement });
    items.set(entry.subject, item);
  }
  return items;
}

function groupReport(
  items: ReadonlyMap<string, ReadonlyMap<string, Judgement>>,
): Pick<AgreementReportDoc, "method" | "value" | "consistency" | "items"> | null {
  const shared = [...items.values()]
    .filter((item) => item.size >= 2)
    .map((item) => [...item.values()]);
  const pairwise = pairwiseAgreement(shared.map((item) => item.map((j) => j.category)));
  if (!pairwise) return null;
  const scored = shared.every((item) => item.every((j) => j.score !== undefined));
  const chanceCorrected = scored
    ? krippendorffAlpha(
        shared.map((item) => item.map((j) => j.score!)),
        "ordinal",
      )?.alpha
    : fleissKappa(categoryCounts(shared.map((item) => item.map((j) => j.category))))?.kappa;
  return {
    // With every judgement in one category the chance-corrected figure is undefined; the plain
    // agreement is reported instead.
    method: chanceCorrected === undefined ? "pairwise" : scored ? "krippendorff" : "fleiss",
    value: chanceCorrected ?? pairwise.agreement,
    consistency: pairwise.agreement,
    items: pairwise.items,
  };
}

function raterPairReports(
  items: ReadonlyMap<string, ReadonlyMap<string, Judgement>>,
): Array<Pick<AgreementReportDoc, "raters" | "method" | "value" | "consistency" | "items">> {
  const pairs = new Map<string, Array<readonly [Category, Category]>>();
  for (const item of items.values()) {
    const judgements = [...item.values()].sort((x, y) => (x.rater < y.rater ? -1 : 1));
    for (let i = 0; i < judgements.length; i++) {
      for (let j = i + 1; j < judgements.length; j++) {
        const name = `${judgements[i]!.rater}\u0000${judgements[j]!.rater}`;
        const list = pairs.get(name) ?? [];
        list.push([judgements[i]!.category, judgements[j]!.category]);
        pairs.set(name, list);
      }
    }
  }
  return [...pairs.entries()]
    .sort((x, y) => y[1].length - x[1].length || (x[0] < y[0] ? -1 : 1))
    .slice(0, MAX_RATER_PAIRS_PER_KEY)
    .map(([name, judged]) => {
      const [first, second] = name.split("\u0000") as [string, string];
      const agreed = judged.filter(([a, b]) => a === b).length / judged.length;
      const cohen = cohensKappa(judged);
      return {
        raters: [first, second] as [string, string],
        method: cohen ? ("cohen" as const) : ("pairwise" as const),
        value: cohen?.kappa ?? agreed,
        consistency: agreed,
        items: judged.length,
      };
    });
}

export function createAgreementReportService(deps: {
  collections: Pick<Collections, "feedback" | "agreementReports">;
  clock: Clock;
  /** Items judged by two or more raters a key or batch needs before it is reported. */
  minItems: number;
}): AgreementReportService {
  const { collections, clock } = deps;

  const computeKey = async (key: string, computedAt: Date): Promise<AgreementReportDoc[]> => {
    const feedback = await collections.feedback
      .find(
        { key, kind: { $in: [...judgementKinds] }, status: "active" },
        {
          sort: { _id: 1 },
        },
      )
      .toArray();
    const reports: AgreementReportDoc[] = [];
    const report = (fields: Omit<AgreementReportDoc, "_id" | "key" | "flagged" | "computedAt">) =>
      reports.push({
        _id: new ObjectId(),
        key,
        ...fields,
        flagged: fields.consistency <= CONSISTENCY_THRESHOLD,
        computedAt,
      });
    const all = itemsOf(feedback);
    const whole = groupReport(all);
    if (whole && whole.items >= deps.minItems) report({ scope: "key", ...whole });
    const batches = new Map<string, JudgedFeedback[]>();
    for (const entry of feedback) {
      const batch = batchOf(entry);
      if (!batch) continue;
      const members = batches.get(batch);
      if (members) members.push(entry);
      else batches.set(batch, [entry]);
    }
    for (const [batchId, members] of [...batches.entries()].sort()) {
      const result = groupReport(itemsOf(members));
      if (result && result.items >= deps.minItems) report({ scope: "batch", batchId, ...result });
    }
    for (const pair of raterPairReports(all)) report({ scope: "raterPair", ...pair });
    return reports;
  };

  /**
   * The reports of each key's latest computation (one computation writes all of a key's reports
   * with one `computedAt`), so reading the current state never walks the history.
   */
  const latestRuns = async (key: string | null, scopes: readonly AgreementScope[] | null) => {
    const keys = key
      ? [key]
      : ((await collections.agreementReports.distinct("key", {})) as string[]).sort();
    const docs: AgreementReportDoc[] = [];
    for (const name of keys) {
      const newest = await collections.agreementReports.findOne(
        { key: name },
        { sort: { computedAt: -1 }, projection: { computedAt: 1 } },
      );
      if (!newest) continue;
      docs.push(
        ...(await collections.agreementReports
          .find({
            key: name,
            computedAt: newest.computedAt,
            ...(scopes ? { scope: { $in: [...scopes] } } : {}),
          })
          .toArray()),
      );
    }
    return docs;
  };

  return {
    async compute(options = {}) {
      const computedAt = clock.now();
      const keys = options.key
        ? [options.key]
        : (
            (await collections.feedback.distinct("key", {
              kind: { $in: [...judgementKinds] },
            })) as string[]
          ).sort();
      let reports = 0;
      let flagged = 0;
      for (const [index, key] of keys.entries()) {
        const docs = await computeKey(key, computedAt);
        if (docs.length > 0) await collections.agreementReports.insertMany(docs);
        // Earlier computations of the key stay as history for a while; a key that lost its
        // overlapping items keeps its last reports until they age out.
        await collections.agreementReports.deleteMany({
          key,
          computedAt: { $lt: new Date(computedAt.getTime() - AGREEMENT_KEEP_MS) },
        });
        reports += docs.length;
        flagged += docs.filter((doc) => doc.flagged && doc.scope !== "raterPair").length;
        await options.onKey?.(key, index + 1, keys.length);
      }
      return { keys: keys.length, reports, flagged, computedAt };
    },

    async latest(filter, limit) {
      const docs = await latestRuns(filter.key ?? null, filter.scope ? [filter.scope] : null);
      return docs
        .sort(
          (x, y) =>
            x.consistency - y.consistency ||
            x.key.localeCompare(y.key) ||
            x.scope.localeCompare(y.scope) ||
            (x.batchId ?? "").localeCompare(y.batchId ?? "") ||
            (x.raters?.join() ?? "").localeCompare(y.raters?.join() ?? ""),
        )
        .slice(0, limit);
    },

    async flagged() {
      const docs = await latestRuns(null, ["key", "batch"]);
      const keys = new Set<string>();
      const batches = new Set<string>();
      for (const doc of docs) {
        if (!doc.flagged) continue;
        if (doc.scope === "key") keys.add(doc.key);
        else if (doc.batchId) batches.add(batchLabel(doc.key, doc.batchId));
      }
      return { keys, batches };
    },
  };
}
