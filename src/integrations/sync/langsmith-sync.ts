/**
 * LangSmith ⇄ Loopgate through the official SDK adapter.
 *
 * Push: Loopgate feedback on interactions that carry a LangSmith run (`trace.runId`, with the
 * run's project as `trace.projectId` or the configured project) goes to that run, with a feedback
 * id derived from ours (so a replay converges on the same LangSmith feedback), in feedback-id
 * order behind a settle window; our rating keys are mirrored as feedback configs.
 * Pull: feedback configs become declared keys, the project's runs in the look-back window become
 * interactions (idempotently, by run id), and feedback made in LangSmith on those runs (annotation
 * queues: expert; online evaluators: llm_judge; the API: user) becomes Loopgate feedback.
 */
import { createHash } from "node:crypto";
import { ObjectId } from "mongodb";
import type { FeedbackSubmission } from "../../feedback/ingest.js";
import type {
  FeedbackDoc,
  FeedbackKeyDoc,
  FeedbackSource,
  InteractionDoc,
} from "../../store/documents.js";
import {
  type LangSmithAdapter,
  LangSmithApiError,
  type LangSmithFeedback,
  type LangSmithFeedbackConfig,
  type LangSmithFeedbackInput,
  type LangSmithRun,
  type LangSmithSourceType,
} from "../langsmith/client.js";
import { count, emptyCounts, importFeedback, type SyncDeps, type SyncFunction } from "./context.js";

const PAGE = 200;
/** Feedback younger than this is left for the next run: a write still in flight may sort before it. */
const SETTLE_MS = 5_000;
const PUSHED = "langsmith-feedback";
const PULLED = "langsmith-feedback-pull";
const RUNS = "langsmith-run";

/** A UUID derived from our feedback id: the same feedback always maps to the same LangSmith id. */
export function langsmithFeedbackId(feedbackId: string): string {
  const hex = createHash("sha256").update(`loopgate-feedback:${feedbackId}`).digest("hex");
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const sourceTypes: Record<FeedbackSource, LangSmithSourceType> = {
  user: "app",
  expert: "app",
  llm_judge: "model",
  rule: "api",
  cross_model: "model",
};

/** What LangSmith feedback of a key carries for each of our kinds. */
function feedbackBody(
  doc: FeedbackDoc,
): Pick<LangSmithFeedbackInput, "score" | "value" | "correction" | "comment"> {
  const comment = doc.comment ?? null;
  switch (doc.kind) {
    case "binary":
      return { score: doc.binary?.positive ? 1 : 0, comment };
    case "rating":
      return { score: doc.rating?.score ?? null, comment };
    case "correction":
      return { score: 0, correction: { output: doc.correction?.correctedResponse ?? "" }, comment };
    case "comparison":
      return {
        value: { preferred: doc.comparison?.preferred ?? "tie" },
        ...(doc.comparison?.reason ? { comment: doc.comparison.reason } : { comment }),
      };
    case "comment":
      return { comment };
    case "implicit":
      return {
        value: doc.implicit?.signal ?? null,
        ...(doc.implicit?.value === undefined ? {} : { score: doc.implicit.value }),
        comment,
      };
    case "flag":
      return {
        score: 0,
        value: { category: doc.flag?.category, severity: doc.flag?.severity },
        comment: doc.flag?.reason ?? comment,
      };
  }
}

/** Our key config as a LangSmith feedback config. */
function configOf(key: FeedbackKeyDoc): LangSmithFeedbackConfig {
  if (key.kind === "rating")
    return { type: "continuous", min: key.rating?.min ?? 1, max: key.rating?.max ?? 5 };
  if (key.kind === "binary")
    return {
      type: "categorical",
      categories: [
        { value: 0, label: "negative" },
        { value: 1, label: "positive" },
      ],
    };
  return { type: "freeform" };
}

/** A LangSmith key as a Loopgate key name (letters first, at most 64 of `[A-Za-z0-9_.:-]`). */
export function loopgateKey(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_.:-]/g, "_");
  return (/^[A-Za-z]/.test(cleaned) ? cleaned : `ls_${cleaned}`).slice(0, 64);
}

export interface LangSmithSync {
  push: SyncFunction;
  pull: SyncFunction;
}

export function createLangSmithSync(
  deps: SyncDeps,
  adapter: LangSmithAdapter,
  settings: { project: string | undefined; lookbackDays: number },
): LangSmithSync {
  let project: { id: string; name: string } | null | undefined;
  const configuredProject = async () => {
    if (project === undefined)
      project = settings.project ? ((await adapter.findProject(settings.project)) ?? null) : null;
    return project;
  };

  const push: SyncFunction = async (run) => {
    let stage = String(run.cursor.stage ?? "configs");
    if (stage === "configs") {
      const counts = emptyCounts();
      const remote = new Set((await adapter.listFeedbackConfigs()).map((c) => c.key));
      for (const key of await deps.keys.list()) {
        if (remote.has(key._id)) {
          counts.skipped += 1;
          continue;
        }
        try {
          await adapter.ensureFeedbackConfig(key._id, configOf(key), key.isLowerScoreBetter);
          counts.synced += 1;
        } catch (error) {
          // LangSmith refuses a config that contradicts one it has: reported, not fatal.
          if (!(error instanceof LangSmithApiError) || error.transient) throw error;
          deps.logger.warn({ key: key._id, err: error }, "langsmith: feedback config refused");
          counts.failed += 1;
        }
      }
      stage = "feedback";
      await run.save({ stage, afterId: run.cursor.afterId ?? null }, counts);
    }
    let afterId = (run.cursor.afterId as string | null | undefined) ?? null;
    const settled = ObjectId.createFromTime(
      Math.floor((deps.clock.now().getTime() - SETTLE_MS) / 1000),
    );
    const fallback = await configuredProject();
    for (;;) {
      const page = await deps.collections.feedback
        .find(
          { _id: { ...(afterId ? { $gt: new ObjectId(afterId) } : {}), $lt: settled } },
          { sort: { _id: 1 }, limit: PAGE },
        )
        .toArray();
      if (page.length === 0) break;
      const counts = emptyCounts();
      const ids = page.map((doc) => doc._id.toHexString());
      const [pushed, pulled, interactions] = await Promise.all([
        deps.links.knownLocal("langsmith", PUSHED, ids),
        deps.links.knownLocal("langsmith", PULLED, ids),
        deps.collections.interactions
          .find(
            { _id: { $in: page.flatMap((doc) => (doc.interactionId ? [doc.interactionId] : [])) } },
            { projection: { trace: 1 } },
          )
          .toArray(),
      ]);
      const traceOf = new Map(interactions.map((doc) => [doc._id.toHexString(), doc.trace]));
      for (const doc of page) {
        const id = doc._id.toHexString();
        const trace = doc.interactionId ? traceOf.get(doc.interactionId.toHexString()) : undefined;
        const projectId = trace?.projectId ?? fallback?.id;
        // Already there, came from LangSmith, superseded, or about no LangSmith run: nothing to send.
        if (
          pushed.has(id) ||
          pulled.has(id) ||
          doc.submittedBy === "integration:langsmith" ||
          doc.status !== "active" ||
          !trace?.runId ||
          !projectId
        ) {
          counts.skipped += 1;
          continue;
        }
        const externalId = langsmithFeedbackId(id);
        await adapter.pushFeedback({
          feedbackId: externalId,
          runId: trace.runId,
          projectId,
          ...(trace.startTime ? { runStartTime: trace.startTime.toISOString() } : {}),
          key: doc.key,
          ...feedbackBody(doc),
          sourceType: sourceTypes[doc.source],
          sourceInfo: {
            loopgate_source: doc.source,
            loopgate_kind: doc.kind,
            ...(doc.annotatorId ? { annotator_id: doc.annotatorId } : {}),
            ...(doc.category ? { category: doc.category } : {}),
          },
        });
        const created = await deps.links.link({
          integration: "langsmith",
          kind: PUSHED,
          localId: id,
          externalId,
          direction: "push",
        });
        count(counts, created ? "pushed" : "skipped");
      }
      afterId = page.at(-1)!._id.toHexString();
      await run.save({ stage, afterId }, counts);
    }
    // The feedback watermark stays; the next run mirrors configs again, then goes on from it.
    await run.save({ stage: "configs", afterId }, emptyCounts());
  };

  /** LangSmith's feedback as a Loopgate submission, or why not. */
  async function submissionOf(
    feedback: LangSmithFeedback,
    interaction: InteractionDoc,
  ): Promise<FeedbackSubmission | undefined> {
    const type = feedback.feedback_source?.type ?? "api";
    const source: FeedbackSource =
      type === "model" || type === "auto_eval" ? "llm_judge" : type === "app" ? "expert" : "user";
    const key = loopgateKey(feedback.key);
    const common = {
      interactionId: interaction._id.toHexString(),
      key,
      source,
      ...(source !== "user"
        ? { annotatorId: `langsmith:${feedback.feedback_source?.user_id ?? type}` }
        : {}),
      ...(feedback.comment ? { comment: feedback.comment.slice(0, 10_000) } : {}),
      createdAt: new Date(feedback.created_at),
      metadata: { langsmithFeedbackId: feedback.id },
    };
    const correction = feedback.correction;
    if (correction !== null && correction !== undefined) {
      const text =
        typeof correction === "string"
          ? correction
          : typeof (correction as { output?: unknown }).output === "string"
            ? (correction as { output: string }).output
            : JSON.stringify(correction);
      return { kind: "correction", input: { ...common, correctedResponse: text } };
    }
    const score = feedback.score;
    if (typeof score === "boolean")
      return { kind: "binary", input: { ...common, positive: score } };
    if (typeof score === "number") {
      const config = await deps.keys.get(key);
      if (
        config?.kind === "binary" ||
        (!config && (score === 0 || score === 1) && !Number.isNaN(score))
      )
        return { kind: "binary", input: { ...common, positive: score >= 1 } };
      return { kind: "rating", input: { ...common, score } };
    }
    if (feedback.comment)
      return { kind: "comment", input: { ...common, text: feedback.comment.slice(0, 10_000) } };
    return undefined;
  }

  /** Run inputs and outputs as a query and a response, whatever the chain's field names. */
  function interactionOf(run: LangSmithRun, projectId: string) {
    const text = (value: unknown, keys: string[]): string | undefined => {
      if (typeof value === "string") return value;
      if (!value || typeof value !== "object") return undefined;
      const record = value as Record<string, unknown>;
      for (const key of keys)
        if (typeof record[key] === "string" && record[key] !== "") return record[key] as string;
      const messages = record.messages;
      if (Array.isArray(messages)) {
        const last = messages
          .flat()
          .reverse()
          .find((m) => typeof m?.content === "string");
        if (last) return last.content as string;
      }
      return Object.keys(record).length > 0 ? JSON.stringify(record) : undefined;
    };
    const metadata = (run.extra?.metadata ?? {}) as Record<string, unknown>;
    const query = text(run.inputs, ["input", "question", "query", "prompt"]) ?? "(no input)";
    const response = text(run.outputs, ["output", "answer", "text", "response"]) ?? run.error ?? "";
    return {
      query: query.slice(0, 100_000),
      response: response.slice(0, 100_000),
      model: {
        id: String(metadata.ls_model_name ?? run.name ?? "langsmith").slice(0, 256),
        version: String(metadata.ls_model_version ?? metadata.revision_id ?? "unknown").slice(
          0,
          256,
        ),
      },
      trace: {
        provider: "langsmith",
        runId: run.id,
        projectId,
        ...(run.trace_id ? { traceId: run.trace_id } : {}),
        ...(run.start_time ? { startTime: new Date(run.start_time) } : {}),
      },
      ...(run.start_time ? { createdAt: new Date(run.start_time) } : {}),
      ...(run.total_tokens ? { tokens: { total: run.total_tokens } } : {}),
      metadata: { langsmithRunName: run.name ?? null, tags: run.tags ?? [] },
      idempotencyKey: `langsmith:run:${run.id}`,
    };
  }

  const pull: SyncFunction = async (run) => {
    let stage = String(run.cursor.stage ?? "configs");
    const now = deps.clock.now();
    const since = new Date(now.getTime() - settings.lookbackDays * 86_400_000);
    if (stage === "configs") {
      const counts = emptyCounts();
      for (const remote of await adapter.listFeedbackConfigs()) {
        const key = loopgateKey(remote.key);
        if (await deps.keys.get(key)) {
          counts.skipped += 1;
          continue;
        }
        const config = remote.config;
        if (config.type === "continuous") {
          const min = config.min ?? 0;
          const max = config.max ?? 1;
          await deps.keys.define({
            key,
            kind: "rating",
            rating: { min, max, integer: false },
            isLowerScoreBetter: remote.isLowerScoreBetter ?? false,
            description: "Mirrored from LangSmith",
          });
        } else if (config.type === "categorical") {
          const values = config.categories.map((c) => c.value);
          const binary = values.length === 2 && values.includes(0) && values.includes(1);
          await deps.keys.define(
            binary
              ? { key, kind: "binary", description: "Mirrored from LangSmith" }
              : {
                  key,
                  kind: "rating",
                  rating: {
                    min: Math.min(...values),
                    max: Math.max(...values),
                    integer: values.every(Number.isInteger),
                  },
                  description: "Mirrored from LangSmith",
                },
          );
        } else
          await deps.keys.define({ key, kind: "comment", description: "Mirrored from LangSmith" });
        counts.synced += 1;
      }
      stage = "runs";
      await run.save({ stage, runsFrom: run.cursor.runsFrom ?? null }, counts);
    }
    const projectRef = await configuredProject();
    if (stage === "runs") {
      if (projectRef) {
        const from = run.cursor.runsFrom ? new Date(String(run.cursor.runsFrom)) : since;
        let cursor = (run.cursor.runsCursor as string | undefined) ?? undefined;
        let newest = run.cursor.runsNewest ? String(run.cursor.runsNewest) : null;
        for (;;) {
          const page = await adapter.queryRuns({
            projectId: projectRef.id,
            from,
            to: now,
            ...(cursor ? { cursor } : {}),
            pageSize: 100,
          });
          const counts = emptyCounts();
          const known = await deps.links.knownExternal(
            "langsmith",
            RUNS,
            page.runs.map((r) => r.id),
          );
          for (const item of page.runs) {
            if (item.start_time && (!newest || item.start_time > newest)) newest = item.start_time;
            if (known.has(item.id)) {
              counts.skipped += 1;
              continue;
            }
            const recorded = await deps.interactions.record(interactionOf(item, projectRef.id));
            const created = await deps.links.link({
              integration: "langsmith",
              kind: RUNS,
              localId: recorded.interaction._id.toHexString(),
              externalId: item.id,
              direction: "pull",
            });
            count(counts, created ? "imported" : "known");
          }
          cursor = page.nextCursor;
          await run.save(
            { stage, runsFrom: from.toISOString(), runsCursor: cursor ?? null, runsNewest: newest },
            counts,
          );
          if (!cursor) break;
        }
        // The next window starts at the newest run seen; the overlap is deduplicated by run id.
        await run.save(
          { stage: "feedback", runsFrom: newest ?? from.toISOString() },
          emptyCounts(),
        );
      } else await run.save({ stage: "feedback", runsFrom: null }, emptyCounts());
      stage = "feedback";
    }
    const runsFrom = (run.cursor.runsFrom as string | null | undefined) ?? null;
    let afterId =
      stage === "feedback" ? ((run.cursor.afterId as string | undefined) ?? null) : null;
    for (;;) {
      const interactions = await deps.collections.interactions
        .find(
          {
            "trace.runId": { $exists: true },
            createdAt: { $gte: since },
            ...(afterId ? { _id: { $gt: new ObjectId(afterId) } } : {}),
          },
          { sort: { _id: 1 }, limit: 50, projection: { trace: 1, createdAt: 1 } },
        )
        .toArray();
      if (interactions.length === 0) break;
      const counts = emptyCounts();
      const recent = interactions.filter((doc) => doc.createdAt >= since && doc.trace?.runId);
      const byRun = new Map(recent.map((doc) => [doc.trace!.runId!, doc]));
      if (byRun.size > 0) {
        const found: LangSmithFeedback[] = [];
        for await (const feedback of adapter.listFeedback({ runIds: [...byRun.keys()] }))
          found.push(feedback);
        const ids = found.map((f) => f.id);
        const [ours, known] = await Promise.all([
          deps.links.knownExternal("langsmith", PUSHED, ids),
          deps.links.knownExternal("langsmith", PULLED, ids),
        ]);
        for (const feedback of found) {
          const interaction = feedback.run_id ? byRun.get(feedback.run_id) : undefined;
          // Our own pushes come back in the listing: they are not new feedback.
          if (!interaction || ours.has(feedback.id) || known.has(feedback.id)) {
            counts.skipped += 1;
            continue;
          }
          const submission = await submissionOf(feedback, interaction as InteractionDoc);
          if (!submission) {
            counts.skipped += 1;
            continue;
          }
          count(
            counts,
            await importFeedback(deps, {
              integration: "langsmith",
              kind: PULLED,
              externalId: feedback.id,
              submission,
            }),
          );
        }
      }
      afterId = interactions.at(-1)!._id.toHexString();
      await run.save({ stage: "feedback", runsFrom, afterId }, counts);
    }
    await run.save({ stage: "configs", runsFrom }, emptyCounts());
  };

  return { push, pull };
}
