/**
 * Argilla ⇄ Loopgate. Push: one dataset per review task (fields prompt, response, alternatives;
 * questions rating, labels, correction, ranking; `min_submitted` overlap so agreement can be
 * measured), records upserted by `external_id` = the interaction's id with the LLM judge's
 * suggestions. Pull: every submitted response becomes `source: "expert"` feedback with
 * `annotatorId: "argilla:<user id>"`; webhooks (`response.created`, `record.completed`) import
 * at once, the periodic pull catches what a lost delivery missed.
 */

import { ObjectId } from "mongodb";
import type { FeedbackSubmission } from "../../feedback/ingest.js";
import { type FailureCategory, failureCategories } from "../../store/documents.js";
import type {
  ArgillaClient,
  ArgillaQuestionSettings,
  ArgillaRecordUpsert,
} from "../argilla/client.js";
import { count, emptyCounts, importFeedback, type SyncDeps, type SyncFunction } from "./context.js";
import {
  promptOf,
  pushReviewItems,
  type ReviewItem,
  type ReviewTask,
  reviewTasks,
} from "./review-items.js";

const PAGE = 100;
const RANK_OPTIONS = [
  { value: "response", text: "The model's response" },
  { value: "alternative", text: "The first alternative" },
];

export const argillaDatasetName = (task: ReviewTask) => `loopgate-${task.replaceAll("_", "-")}`;
const taskOfDataset = (name: string): ReviewTask | undefined =>
  reviewTasks.find((task) => argillaDatasetName(task) === name);

const questions: Array<{
  name: string;
  title: string;
  required: boolean;
  settings: ArgillaQuestionSettings;
}> = [
  {
    name: "rating",
    title: "How good is the response? (1 = unusable, 5 = perfect)",
    required: true,
    settings: { type: "rating", options: [1, 2, 3, 4, 5].map((value) => ({ value })) },
  },
  {
    name: "labels",
    title: "What is wrong with it?",
    required: false,
    settings: {
      type: "multi_label_selection",
      options: failureCategories.map((category) => ({
        value: category,
        text: category.replace("_", " "),
      })),
    },
  },
  {
    name: "correction",
    title: "The response as it should have been",
    required: false,
    settings: { type: "text" },
  },
  {
    name: "ranking",
    title: "Rank the response against the alternative",
    required: false,
    settings: { type: "ranking", options: RANK_OPTIONS },
  },
];

export interface ArgillaSync {
  push: SyncFunction;
  pull: SyncFunction;
  /** Imports one delivered response (webhook); returns how many feedback it created. */
  importResponse(input: DeliveredResponse): Promise<number>;
  /** Imports every response of a record (webhook `record.completed`). */
  importRecord(recordId: string): Promise<number>;
}

export interface DeliveredResponse {
  datasetName: string;
  externalId: string | null;
  fields: Record<string, unknown>;
  response: {
    id: string;
    user_id: string;
    status: string;
    values: Record<string, { value: unknown }> | null;
    updated_at: string;
  };
}

export function createArgillaSync(
  deps: SyncDeps,
  client: ArgillaClient,
  settings: { workspace: string; minSubmitted: number },
): ArgillaSync {
  const datasets = new Map<ReviewTask, { id: string; questionIds: Map<string, string> }>();

  async function dataset(task: ReviewTask) {
    const cached = datasets.get(task);
    if (cached) return cached;
    const workspace =
      (await client.listWorkspaces()).find((w) => w.name === settings.workspace) ??
      (await client.createWorkspace(settings.workspace));
    const name = argillaDatasetName(task);
    const ds =
      (await client.findDataset(workspace.id, name)) ??
      (await client.createDataset({
        name,
        workspace_id: workspace.id,
        min_submitted: settings.minSubmitted,
        guidelines:
          task === "conflict"
            ? "Users disagreed about these responses. Rate each one, say what is wrong, and correct it if needed."
            : "Loopgate routed these responses to expert review (low quality, high priority or disputed). Rate, label and correct them.",
      }));
    if (ds.status === "draft") {
      // A setup interrupted half-way is completed, never repeated.
      const fields = new Set((await client.listFields(ds.id)).map((f) => f.name));
      for (const field of [
        { name: "prompt", title: "Prompt", required: true },
        { name: "response", title: "Response", required: true },
        {
          name: "alternatives",
          title: "Alternatives (corrections and compared answers)",
          required: false,
        },
      ])
        if (!fields.has(field.name))
          await client.createField(ds.id, {
            ...field,
            settings: { type: "text", use_markdown: false },
          });
      const existing = new Set((await client.listQuestions(ds.id)).map((q) => q.name));
      for (const question of questions)
        if (!existing.has(question.name)) await client.createQuestion(ds.id, question);
      await client.publishDataset(ds.id);
    }
    const entry = { id: ds.id, questionIds: await client.questionIds(ds.id) };
    datasets.set(task, entry);
    return entry;
  }

  function record(item: ReviewItem, questionIds: Map<string, string>): ArgillaRecordUpsert {
    const suggestions: NonNullable<ArgillaRecordUpsert["suggestions"]> = [];
    const { suggestion } = item;
    if (suggestion?.rating && questionIds.has("rating"))
      suggestions.push({
        question_id: questionIds.get("rating")!,
        value: suggestion.rating,
        agent: suggestion.agent,
        type: "model",
      });
    const category = suggestion?.category ?? item.category;
    if (category && questionIds.has("labels"))
      suggestions.push({
        question_id: questionIds.get("labels")!,
        value: [category],
        agent: suggestion?.agent ?? "loopgate-pipeline",
        type: "model",
      });
    const { interaction } = item;
    return {
      external_id: interaction._id.toHexString(),
      fields: {
        prompt: promptOf(interaction),
        response: interaction.response,
        alternatives: item.alternatives.length > 0 ? item.alternatives.join("\n\n---\n\n") : null,
      },
      metadata: {
        loopgate_interaction_id: interaction._id.toHexString(),
        loopgate_source_id: item.sourceId,
        model_id: interaction.model.id,
        model_version: interaction.model.version,
        priority: item.priority,
        reason: item.reason,
        ...(item.category ? { category: item.category } : {}),
      },
      ...(suggestions.length > 0 ? { suggestions } : {}),
    };
  }

  const push: SyncFunction = (run) =>
    pushReviewItems(
      run,
      { ...deps, pageSize: PAGE },
      async (task, items) => {
        const ds = await dataset(task);
        const kind = `argilla-record:${task}`;
        const counts = emptyCounts();
        const unique = new Map(items.map((item) => [item.interaction._id.toHexString(), item]));
        const known = await deps.links.knownLocal("argilla", kind, [...unique.keys()]);
        const fresh = [...unique.values()].filter(
          (item) => !known.has(item.interaction._id.toHexString()),
        );
        counts.skipped += unique.size - fresh.length;
        if (fresh.length > 0) {
          // PUT upsert keyed by external_id: a repeat after a crash updates, never duplicates.
          const stored = await client.upsertRecords(
            ds.id,
            fresh.map((item) => record(item, ds.questionIds)),
          );
          for (const rec of stored) {
            if (!rec.external_id) continue;
            const created = await deps.links.link({
              integration: "argilla",
              kind,
              localId: rec.external_id,
              externalId: rec.id,
              direction: "push",
            });
            count(counts, created ? "pushed" : "skipped");
          }
        }
        return counts;
      },
      async (task) => {
        await dataset(task);
      },
    );

  function submissions(
    interactionId: string,
    fields: Record<string, unknown>,
    response: DeliveredResponse["response"],
  ): Array<{ kind: string; submission: FeedbackSubmission }> {
    if (response.status !== "submitted" || !response.values) return [];
    const values = response.values;
    const common = {
      source: "expert" as const,
      annotatorId: `argilla:${response.user_id}`,
      createdAt: new Date(
        /[zZ]|[+-]\d\d:?\d\d$/.test(response.updated_at)
          ? response.updated_at
          : `${response.updated_at}Z`,
      ),
      metadata: { argillaResponseId: response.id },
    };
    const labels = Array.isArray(values.labels?.value) ? (values.labels.value as string[]) : [];
    const category = labels.find((label): label is FailureCategory =>
      (failureCategories as readonly string[]).includes(label),
    );
    const out: Array<{ kind: string; submission: FeedbackSubmission }> = [];
    const score = values.rating?.value;
    if (typeof score === "number")
      out.push({
        kind: "argilla-response:expert_rating",
        submission: {
          kind: "rating",
          input: {
            ...common,
            interactionId,
            key: "expert_rating",
            score,
            ...(category ? { category } : {}),
          },
        },
      });
    const corrected = values.correction?.value;
    if (typeof corrected === "string" && corrected.trim() !== "" && corrected !== fields.response)
      out.push({
        kind: "argilla-response:expert_correction",
        submission: {
          kind: "correction",
          input: {
            ...common,
            interactionId,
            key: "expert_correction",
            correctedResponse: corrected,
            ...(category ? { category } : {}),
          },
        },
      });
    const ranking = values.ranking?.value;
    const alternative =
      typeof fields.alternatives === "string"
        ? fields.alternatives.split("\n\n---\n\n")[0]
        : undefined;
    if (Array.isArray(ranking) && alternative) {
      const rank = (value: string) =>
        (ranking as Array<{ value: string; rank: number }>).find((entry) => entry.value === value)
          ?.rank;
      const ours = rank("response");
      const theirs = rank("alternative");
      if (ours !== undefined && theirs !== undefined)
        out.push({
          kind: "argilla-response:expert_preference",
          submission: {
            kind: "comparison",
            input: {
              ...common,
              key: "expert_preference",
              a: { interactionId },
              b: { text: alternative },
              preferred: ours < theirs ? "a" : ours > theirs ? "b" : "tie",
            },
          },
        });
    }
    return out;
  }

  async function importOne(
    delivered: DeliveredResponse,
    known?: Map<string, Set<string>>,
  ): Promise<ReturnType<typeof emptyCounts>> {
    const counts = emptyCounts();
    if (
      !taskOfDataset(delivered.datasetName) ||
      !delivered.externalId ||
      !ObjectId.isValid(delivered.externalId)
    )
      return counts;
    for (const { kind, submission } of submissions(
      delivered.externalId,
      delivered.fields,
      delivered.response,
    ))
      count(
        counts,
        await importFeedback(
          deps,
          { integration: "argilla", kind, externalId: delivered.response.id, submission },
          known?.get(kind),
        ),
      );
    return counts;
  }

  const pull: SyncFunction = async (run) => {
    let taskIndex = Number(run.cursor.taskIndex ?? 0);
    let offset = Number(run.cursor.offset ?? 0);
    const kinds = ["expert_rating", "expert_correction", "expert_preference"].map(
      (key) => `argilla-response:${key}`,
    );
    while (taskIndex < reviewTasks.length) {
      const task = reviewTasks[taskIndex]!;
      const ds = await dataset(task);
      for (;;) {
        const { items } = await client.listRecords(ds.id, {
          offset,
          limit: PAGE,
          include: ["responses"],
        });
        const responseIds = items.flatMap((rec) => (rec.responses ?? []).map((r) => r.id));
        const known = new Map<string, Set<string>>();
        for (const kind of kinds)
          known.set(
            kind,
            new Set((await deps.links.knownExternal("argilla", kind, responseIds)).keys()),
          );
        const counts = emptyCounts();
        for (const rec of items)
          for (const response of rec.responses ?? []) {
            const batch = await importOne(
              {
                datasetName: argillaDatasetName(task),
                externalId: rec.external_id,
                fields: rec.fields,
                response,
              },
              known,
            );
            counts.synced += batch.synced;
            counts.skipped += batch.skipped;
            counts.failed += batch.failed;
          }
        offset += items.length;
        await run.save({ taskIndex, offset }, counts);
        if (items.length < PAGE) break;
      }
      taskIndex += 1;
      offset = 0;
      await run.save({ taskIndex, offset }, emptyCounts());
    }
    await run.save({}, emptyCounts());
  };

  return {
    push,
    pull,
    async importResponse(delivered) {
      return (await importOne(delivered)).synced;
    },
    async importRecord(recordId) {
      const rec = await client.getRecord(recordId);
      const ds = [...datasets.entries()].find(([, entry]) => entry.id === rec.dataset_id);
      let task = ds?.[0];
      if (!task)
        for (const candidate of reviewTasks)
          if ((await dataset(candidate)).id === rec.dataset_id) task = candidate;
      if (!task) return 0;
      let synced = 0;
      for (const response of rec.responses ?? [])
        synced += (
          await importOne({
            datasetName: argillaDatasetName(task),
            externalId: rec.external_id,
            fields: rec.fields,
            response,
          })
        ).synced;
      return synced;
    },
  };
}
