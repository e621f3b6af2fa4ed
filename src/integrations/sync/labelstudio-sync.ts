/**
 * Label Studio ⇄ Loopgate. Push: one project per labeling kind (rating, pairwise comparison,
 * text correction, choices), tasks imported with the LLM judge's predictions and Loopgate's ids in
 * `meta`. Label Studio's import is not idempotent, so the ids of a batch are checkpointed before
 * the import and, after a crash, matched against the project's tasks before anything is imported
 * again. Pull: annotations become `source: "expert"` feedback (`annotatorId:
 * "labelstudio:<user id>"`); webhooks import at once, and the periodic pull pages through every
 * task because Label Studio neither retries nor signs its deliveries.
 */
import { ObjectId } from "mongodb";
import type { FeedbackSubmission } from "../../feedback/ingest.js";
import { type FailureCategory, failureCategories } from "../../store/documents.js";
import type {
  LabelStudioAnnotation,
  LabelStudioClient,
  LabelStudioTask,
  LabelStudioTaskInput,
  LsResultItem,
} from "../labelstudio/client.js";
import { LabelStudioApiError } from "../labelstudio/errors.js";
import {
  choicesConfig,
  correctionConfig,
  pairwiseConfig,
  ratingConfig,
} from "../labelstudio/label-configs.js";
import { count, emptyCounts, importFeedback, type SyncDeps, type SyncFunction } from "./context.js";
import { promptOf, pushReviewItems, type ReviewItem } from "./review-items.js";
import type { RunCounts } from "./state.js";

const PAGE = 100;
export const projectKinds = ["rating", "pairwise", "correction", "choices"] as const;
export type ProjectKind = (typeof projectKinds)[number];
const VERDICTS = ["good", ...failureCategories];

export const labelStudioProjectTitle = (kind: ProjectKind) => `Loopgate ${kind} review`;

const labelConfigs: Record<ProjectKind, () => string> = {
  rating: () => ratingConfig(5),
  pairwise: pairwiseConfig,
  correction: correctionConfig,
  choices: () => choicesConfig(VERDICTS, "verdict"),
};

export interface LabelStudioSync {
  push: SyncFunction;
  pull: SyncFunction;
  /** Imports one annotation delivered by a webhook, given the task it belongs to. */
  importAnnotation(
    annotation: LabelStudioAnnotation,
    task: {
      id: number;
      project: number;
      data: Record<string, unknown>;
      meta?: Record<string, unknown>;
    },
  ): Promise<RunCounts>;
  /** Records annotations deleted in Label Studio (their feedback stays: Loopgate is append-only). */
  deleted(annotationIds: readonly number[]): Promise<number>;
}

export function createLabelStudioSync(
  deps: SyncDeps,
  client: LabelStudioClient,
  settings: { maxAnnotations: number },
): LabelStudioSync {
  // One lookup at a time: the push and the pull start together, and two lookups that both found
  // no project would each create one, leaving two projects of one title (tasks split between them).
  let projects: Promise<Map<ProjectKind, number>> | undefined;

  function projectIds(): Promise<Map<ProjectKind, number>> {
    projects ??= findOrCreateProjects().catch((error: unknown) => {
      projects = undefined;
      throw error;
    });
    return projects;
  }

  async function findOrCreateProjects(): Promise<Map<ProjectKind, number>> {
    const found = new Map<ProjectKind, number>();
    const titles = new Map(projectKinds.map((kind) => [labelStudioProjectTitle(kind), kind]));
    for (let page = 1; ; page++) {
      const { results } = await client.listProjects({ page, pageSize: 100 });
      for (const project of results) {
        const kind = titles.get(project.title);
        if (kind && !found.has(kind)) found.set(kind, project.id);
      }
      if (results.length < 100) break;
    }
    for (const kind of projectKinds)
      if (!found.has(kind)) {
        const created = await client.createProject({
          title: labelStudioProjectTitle(kind),
          label_config: labelConfigs[kind](),
          description: `Loopgate ${kind} review of routed and disputed responses`,
          maximum_annotations: settings.maxAnnotations,
        });
        found.set(kind, created.id);
      }
    return found;
  }

  function taskFor(kind: ProjectKind, item: ReviewItem): LabelStudioTaskInput | undefined {
    const { interaction, suggestion } = item;
    const meta = {
      loopgateInteractionId: interaction._id.toHexString(),
      loopgateTask: item.task,
      loopgateSourceId: item.sourceId,
      reason: item.reason,
    };
    const base = { prompt: promptOf(interaction), response: interaction.response };
    const version = suggestion?.agent ?? "loopgate";
    switch (kind) {
      case "rating":
        return {
          data: base,
          meta,
          ...(suggestion?.rating
            ? {
                predictions: [
                  {
                    model_version: version,
                    result: [
                      {
                        from_name: "rating",
                        to_name: "response",
                        type: "rating",
                        value: { rating: suggestion.rating },
                      },
                    ],
                  },
                ],
              }
            : {}),
        };
      case "choices": {
        const category = suggestion?.category ?? item.category;
        const verdict =
          category ??
          (suggestion?.rating !== undefined && suggestion.rating >= 4 ? "good" : undefined);
        return {
          data: base,
          meta,
          ...(verdict
            ? {
                predictions: [
                  {
                    model_version: version,
                    result: [
                      {
                        from_name: "verdict",
                        to_name: "response",
                        type: "choices",
                        value: { choices: [verdict] },
                      },
                    ],
                  },
                ],
              }
            : {}),
        };
      }
      case "correction":
        return { data: base, meta };
      case "pairwise": {
        const alternative = item.alternatives[0];
        if (!alternative) return undefined;
        return {
          data: { prompt: base.prompt, answer1: interaction.response, answer2: alternative },
          meta,
        };
      }
    }
  }

  /** Links tasks a crashed run imported but never linked (their ids were checkpointed first). */
  async function reconcile(kind: ProjectKind, projectId: number, pending: readonly string[]) {
    const wanted = new Set(pending);
    for await (const task of client.iterateTasks(projectId, { pageSize: PAGE })) {
      const id = task.meta?.loopgateInteractionId;
      if (typeof id === "string" && wanted.has(id))
        await deps.links.link({
          integration: "labelstudio",
          kind: `ls-task:${kind}`,
          localId: id,
          externalId: String(task.id),
          direction: "push",
        });
    }
  }

  const push: SyncFunction = async (run) => {
    const ids = await projectIds();
    const inflight = run.cursor.inflight as { kind: ProjectKind; ids: string[] } | undefined;
    if (inflight) await reconcile(inflight.kind, ids.get(inflight.kind)!, inflight.ids);
    await pushReviewItems(run, { ...deps, pageSize: PAGE }, async (_task, items, at) => {
      const counts = emptyCounts();
      const unique = [
        ...new Map(items.map((item) => [item.interaction._id.toHexString(), item])).values(),
      ];
      for (const kind of projectKinds) {
        const linkKind = `ls-task:${kind}`;
        const known = await deps.links.knownLocal(
          "labelstudio",
          linkKind,
          unique.map((i) => i.interaction._id.toHexString()),
        );
        const fresh = unique
          .filter((item) => !known.has(item.interaction._id.toHexString()))
          .map((item) => ({ id: item.interaction._id.toHexString(), task: taskFor(kind, item) }))
          .filter(
            (entry): entry is { id: string; task: LabelStudioTaskInput } =>
              entry.task !== undefined,
          );
        counts.skipped += unique.length - fresh.length;
        if (fresh.length === 0) continue;
        // Write-ahead: which interactions this import is about, before it happens.
        await run.save(
          {
            taskIndex: at.taskIndex,
            afterId: at.afterId ?? null,
            inflight: { kind, ids: fresh.map((e) => e.id) },
          },
          emptyCounts(),
        );
        const { taskIds } = await client.importTasks(
          ids.get(kind)!,
          fresh.map((entry) => entry.task),
        );
        if (taskIds.length !== fresh.length)
          await reconcile(
            kind,
            ids.get(kind)!,
            fresh.map((e) => e.id),
          );
        else
          for (const [index, entry] of fresh.entries())
            count(
              counts,
              (await deps.links.link({
                integration: "labelstudio",
                kind: linkKind,
                localId: entry.id,
                externalId: String(taskIds[index]),
                direction: "push",
              }))
                ? "pushed"
                : "skipped",
            );
      }
      return counts;
    });
  };

  function submissionsFor(
    kind: ProjectKind,
    annotation: LabelStudioAnnotation,
    task: { data: Record<string, unknown> },
    interactionId: string,
  ): FeedbackSubmission | undefined {
    const common = {
      source: "expert" as const,
      annotatorId: `labelstudio:${annotation.completed_by}`,
      createdAt: new Date(annotation.updated_at),
      metadata: { labelStudioAnnotationId: annotation.id },
    };
    const item = (type: string): LsResultItem | undefined =>
      annotation.result.find((r) => r.type === type);
    switch (kind) {
      case "rating": {
        const rating = item("rating")?.value.rating;
        if (typeof rating !== "number") return undefined;
        return {
          kind: "rating",
          input: { ...common, interactionId, key: "expert_rating", score: rating },
        };
      }
      case "choices": {
        const choice = (item("choices")?.value.choices as string[] | undefined)?.[0];
        if (!choice) return undefined;
        const category = (failureCategories as readonly string[]).includes(choice)
          ? (choice as FailureCategory)
          : undefined;
        return {
          kind: "binary",
          input: {
            ...common,
            interactionId,
            key: "expert_verdict",
            positive: choice === "good",
            ...(category ? { category } : {}),
          },
        };
      }
      case "correction": {
        const text = (item("textarea")?.value.text as string[] | undefined)?.join("\n");
        if (!text || text.trim() === "" || text === task.data.response) return undefined;
        return {
          kind: "correction",
          input: { ...common, interactionId, key: "expert_correction", correctedResponse: text },
        };
      }
      case "pairwise": {
        const selected = item("pairwise")?.value.selected;
        const alternative = task.data.answer2;
        if ((selected !== "left" && selected !== "right") || typeof alternative !== "string")
          return undefined;
        return {
          kind: "comparison",
          input: {
            ...common,
            key: "expert_preference",
            a: { interactionId },
            b: { text: alternative },
            preferred: selected === "left" ? "a" : "b",
          },
        };
      }
    }
  }

  async function importAnnotation(
    annotation: LabelStudioAnnotation,
    task: {
      id: number;
      project: number;
      data: Record<string, unknown>;
      meta?: Record<string, unknown>;
    },
    known?: ReadonlySet<string>,
  ): Promise<RunCounts> {
    const counts = emptyCounts();
    const ids = await projectIds();
    const kind = [...ids.entries()].find(([, id]) => id === task.project)?.[0];
    const interactionId = task.meta?.loopgateInteractionId;
    if (
      !kind ||
      typeof interactionId !== "string" ||
      !ObjectId.isValid(interactionId) ||
      annotation.was_cancelled
    ) {
      counts.skipped += 1;
      return counts;
    }
    const submission = submissionsFor(kind, annotation, task, interactionId);
    if (!submission) {
      counts.skipped += 1;
      return counts;
    }
    count(
      counts,
      await importFeedback(
        deps,
        {
          integration: "labelstudio",
          kind: `ls-annotation:${kind}`,
          // Each version of an annotation is its own feedback: an update supersedes the earlier one.
          externalId: `${annotation.id}@${annotation.updated_at}`,
          version: annotation.updated_at,
          submission,
        },
        known,
      ),
    );
    return counts;
  }

  const pull: SyncFunction = async (run) => {
    const ids = await projectIds();
    let kindIndex = Number(run.cursor.kindIndex ?? 0);
    let page = Number(run.cursor.page ?? 1);
    while (kindIndex < projectKinds.length) {
      const kind = projectKinds[kindIndex]!;
      const projectId = ids.get(kind)!;
      for (;;) {
        let tasks: LabelStudioTask[];
        try {
          ({ tasks } = await client.listTasks(projectId, { page, pageSize: PAGE, fields: "all" }));
        } catch (error) {
          // Past the last page Label Studio answers 404 "Invalid page.".
          if (error instanceof LabelStudioApiError && error.status === 404 && page > 1) break;
          throw error;
        }
        const annotations = tasks.flatMap((task) =>
          (task.annotations ?? []).map((a) => ({ a, task })),
        );
        const known = new Set(
          (
            await deps.links.knownExternal(
              "labelstudio",
              `ls-annotation:${kind}`,
              annotations.map(({ a }) => `${a.id}@${a.updated_at}`),
            )
          ).keys(),
        );
        const counts = emptyCounts();
        for (const { a, task } of annotations) {
          const result = await importAnnotation(a, task, known);
          counts.synced += result.synced;
          counts.skipped += result.skipped;
          counts.failed += result.failed;
        }
        page += 1;
        await run.save({ kindIndex, page }, counts);
        if (tasks.length < PAGE) break;
      }
      kindIndex += 1;
      page = 1;
      await run.save({ kindIndex, page }, emptyCounts());
    }
    await run.save({}, emptyCounts());
  };

  return {
    push,
    pull,
    importAnnotation: (annotation, task) => importAnnotation(annotation, task),
    async deleted(annotationIds) {
      let recorded = 0;
      for (const id of annotationIds)
        if (
          await deps.links.link({
            integration: "labelstudio",
            kind: "ls-annotation-deleted",
            localId: String(id),
            externalId: String(id),
            direction: "pull",
          })
        )
          recorded += 1;
      return recorded;
    },
  };
}
