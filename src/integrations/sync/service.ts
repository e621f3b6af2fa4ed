/**
 * The integrations' one entry point for the rest of Loopgate: which integrations are on, queueing
 * their syncs (periodic tick and on demand, one job per integration and direction at a time),
 * running a sync as a job (cursor from the stored state, progress saved after every batch, the
 * outcome recorded), handling queued webhook deliveries, and the status the GraphQL API shows.
 */
import type { ObjectId } from "mongodb";
import type { IntegrationsConfig } from "../../config.js";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { EnqueueResult, JobQueue } from "../../jobs/queue.js";
import type { JobContext } from "../../jobs/types.js";
import { krippendorffAlpha, pairwiseAgreement } from "../../pipeline/agreement.js";
import {
  type IntegrationName,
  integrationNames,
  type SyncDirection,
  type SyncStateDoc,
  syncDirections,
} from "../../store/integration-docs.js";
import { createArgillaClient } from "../argilla/client.js";
import type { HttpMetricsHook } from "../http.js";
import { createLabelStudioClient, type LabelStudioAnnotation } from "../labelstudio/client.js";
import { createLangSmithAdapter } from "../langsmith/client.js";
import { type ArgillaSync, createArgillaSync, type DeliveredResponse } from "./argilla-sync.js";
import type { SyncDeps, SyncFunction } from "./context.js";
import { createLabelStudioSync, type LabelStudioSync } from "./labelstudio-sync.js";
import {
  createLangSmithDatasetPush,
  DATASET_PUSH_JOB,
  type DatasetPushPayload,
  defaultDatasetName,
  type LangSmithDatasetPush,
  MAX_DATASET_NAME,
} from "./langsmith-datasets.js";
import { createLangSmithSync, type LangSmithSync } from "./langsmith-sync.js";
import type { RunCounts } from "./state.js";

export const SYNC_JOB = "integration.sync";
export const WEBHOOK_JOB = "integration.webhook";

/** A delivery accepted at /hooks/argilla or /hooks/labelstudio, handled as a job. */
export type WebhookJobPayload =
  | { integration: "argilla"; event: "response"; delivered: DeliveredResponse }
  | { integration: "argilla"; event: "record.completed"; recordId: string }
  | {
      integration: "labelstudio";
      event: "annotation";
      annotation: LabelStudioAnnotation;
      task: {
        id: number;
        project: number;
        data: Record<string, unknown>;
        meta?: Record<string, unknown>;
      };
    }
  | { integration: "labelstudio"; event: "deleted"; annotationIds: number[] };

/** What the sync metrics count (observability implements it; see integration-sync-metrics.ts). */
export interface SyncObserver {
  synced(integration: string, direction: string, items: number): void;
  failed(integration: string, direction: string): void;
}

export interface DirectionStatus {
  readonly direction: SyncDirection;
  readonly state: SyncStateDoc | null;
  /** Seconds since the last successful run ended; null before the first. */
  readonly lagSeconds: number | null;
}

export interface IntegrationStatus {
  readonly name: IntegrationName;
  readonly enabled: boolean;
  /** The HTTP client's circuit for this integration (closed when off). */
  readonly circuit: string;
  readonly directions: readonly DirectionStatus[];
}

export interface ExpertAgreement {
  readonly key: string;
  readonly items: number;
  readonly annotators: number;
  /** Krippendorff's α (ordinal for ratings, nominal otherwise); null when undefined. */
  readonly alpha: number | null;
  /** Share of annotator pairs that gave the same answer; null without pairs. */
  readonly pairwise: number | null;
}

export interface IntegrationService {
  readonly enabled: readonly IntegrationName[];
  isEnabled(name: IntegrationName): boolean;
  /** Queues a sync, or returns the one already waiting (a dead one is revived). */
  enqueue(name: IntegrationName, direction: SyncDirection): Promise<EnqueueResult>;
  /** The periodic tick: every enabled integration, both directions. */
  enqueueAll(): Promise<number>;
  enqueueWebhook(payload: WebhookJobPayload, dedupKey: string): Promise<EnqueueResult>;
  runSync(context: JobContext<{ integration?: unknown; direction?: unknown }>): Promise<void>;
  runWebhook(context: JobContext<WebhookJobPayload>): Promise<void>;
  /**
   * Queues the push of a ready dataset snapshot to a LangSmith dataset (default name
   * `loopgate-<kind>-<snapshot id>`); while a push of that snapshot waits or runs, that job is
   * returned. Refused (nothing written) when LangSmith is not configured (ValidationError), the
   * snapshot does not exist (NotFoundError) or is not ready (ConflictError).
   */
  enqueueDatasetPush(snapshotId: ObjectId, datasetName?: string | null): Promise<EnqueueResult>;
  runDatasetPush(context: JobContext<Partial<DatasetPushPayload>>): Promise<void>;
  status(): Promise<IntegrationStatus[]>;
  /** Agreement among expert annotators on one feedback key (from Argilla, Label Studio, …). */
  expertAgreement(key: string): Promise<ExpertAgreement>;
  /** Connects the metrics (set once by the composition root). */
  observe(observer: SyncObserver): void;
}

export interface IntegrationServiceDeps extends SyncDeps {
  readonly config: IntegrationsConfig;
  readonly jobs: JobQueue;
  readonly httpMetrics?: HttpMetricsHook;
  /** Test seam: the HTTP client's sleep (Retry-After and backoff waits). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function createIntegrationService(deps: IntegrationServiceDeps): IntegrationService {
  const { config, jobs, clock } = deps;
  const http = {
    timeoutMs: config.httpTimeoutMs,
    clock,
    ...(deps.httpMetrics ? { metrics: deps.httpMetrics } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  };
  const circuits = new Map<IntegrationName, () => string>();
  let langsmith: LangSmithSync | undefined;
  let datasetPush: LangSmithDatasetPush | undefined;
  let argilla: ArgillaSync | undefined;
  let labelstudio: LabelStudioSync | undefined;
  if (config.langsmith) {
    const adapter = createLangSmithAdapter({
      ...http,
      apiUrl: config.langsmith.apiUrl,
      apiKey: config.langsmith.apiKey,
      ...(config.langsmith.workspaceId ? { workspaceId: config.langsmith.workspaceId } : {}),
    });
    circuits.set("langsmith", () => adapter.http.circuitState());
    langsmith = createLangSmithSync(deps, adapter, config.langsmith);
    datasetPush = createLangSmithDatasetPush(deps, adapter, {
      pushed: (items) => observer?.synced("langsmith", "push", items),
    });
  }
  if (config.argilla) {
    const client = createArgillaClient({
      ...http,
      baseUrl: config.argilla.apiUrl,
      apiKey: config.argilla.apiKey,
    });
    circuits.set("argilla", () => client.http.circuitState());
    argilla = createArgillaSync(deps, client, config.argilla);
  }
  if (config.labelstudio) {
    const client = createLabelStudioClient({
      ...http,
      baseUrl: config.labelstudio.url,
      apiKey: config.labelstudio.apiKey,
    });
    circuits.set("labelstudio", () => client.http.circuitState());
    labelstudio = createLabelStudioSync(deps, client, config.labelstudio);
  }
  const syncs: Partial<Record<IntegrationName, Record<SyncDirection, SyncFunction>>> = {
    ...(langsmith ? { langsmith } : {}),
    ...(argilla ? { argilla } : {}),
    ...(labelstudio ? { labelstudio } : {}),
  };
  const enabled = integrationNames.filter((name) => syncs[name] !== undefined);
  let observer: SyncObserver | undefined;

  async function enqueue(name: IntegrationName, direction: SyncDirection): Promise<EnqueueResult> {
    const result = await jobs.enqueue(
      SYNC_JOB,
      { integration: name, direction },
      { key: `${SYNC_JOB}:${name}:${direction}` },
    );
    // A sync that used up its attempts would hold its key forever: the next request revives it.
    if (!result.created && result.job.state === "dead")
      return { job: await jobs.retry(result.job._id), created: false };
    return result;
  }

  return {
    enabled,
    isEnabled: (name) => enabled.includes(name),
    enqueue,
    async enqueueAll() {
      let queued = 0;
      for (const name of enabled)
        for (const direction of syncDirections)
          if ((await enqueue(name, direction)).created) queued += 1;
      return queued;
    },
    enqueueWebhook: (payload, key) =>
      jobs.enqueue(WEBHOOK_JOB, payload as unknown as Record<string, unknown>, {
        key: `${WEBHOOK_JOB}:${key}`.slice(0, 200),
      }),
    async runSync(context) {
      const name = context.job.payload.integration as IntegrationName;
      const direction = context.job.payload.direction as SyncDirection;
      const sync = syncs[name]?.[direction];
      if (!sync) {
        // Turned off since it was queued: nothing to do, and nothing to retry.
        deps.logger.warn(
          { integration: name, direction },
          "integration sync skipped: the integration is not configured",
        );
        return;
      }
      const jobId = context.fence.jobId;
      await deps.state.started(name, direction, jobId);
      const stored = await deps.state.get(name, direction);
      const run: RunCounts = { synced: 0, skipped: 0, failed: 0 };
      try {
        await sync({
          cursor: stored?.cursor ?? {},
          signal: context.signal,
          async save(cursor, batch) {
            // The checkpoint first: it fails when this attempt lost its lease, before any state write.
            await context.checkpoint({ cursor });
            await deps.state.saveCursor(name, direction, cursor, batch);
            run.synced += batch.synced;
            run.skipped += batch.skipped;
            run.failed += batch.failed;
            if (batch.synced > 0) observer?.synced(name, direction, batch.synced);
          },
        });
      } catch (error) {
        observer?.failed(name, direction);
        await deps.state.finished(name, direction, run, error).catch(() => undefined);
        throw error;
      }
      await deps.state.finished(name, direction, run);
      deps.logger.info({ integration: name, direction, ...run }, "integration sync finished");
    },
    async runWebhook(context) {
      const payload = context.job.payload;
      if (payload.integration === "argilla") {
        if (!argilla) return;
        const synced =
          payload.event === "response"
            ? await argilla.importResponse(payload.delivered)
            : await argilla.importRecord(payload.recordId);
        if (synced > 0) observer?.synced("argilla", "pull", synced);
        return;
      }
      if (!labelstudio) return;
      if (payload.event === "deleted") {
        await labelstudio.deleted(payload.annotationIds);
        return;
      }
      const counts = await labelstudio.importAnnotation(payload.annotation, payload.task);
      if (counts.synced > 0) observer?.synced("labelstudio", "pull", counts.synced);
    },
    async enqueueDatasetPush(snapshotId, datasetName) {
      if (!datasetPush)
        throw new ValidationError([
          {
            path: "input",
            message:
              "LangSmith is not configured: set LANGSMITH_API_KEY (see the README's Integrations section)",
          },
        ]);
      const name = datasetName?.trim();
      if (
        datasetName !== null &&
        datasetName !== undefined &&
        (!name || name.length > MAX_DATASET_NAME)
      )
        throw new ValidationError([
          {
            path: "input.datasetName",
            message: `must be 1 to ${MAX_DATASET_NAME} characters (not only spaces)`,
          },
        ]);
      const snapshot = await deps.collections.datasetSnapshots.findOne(
        { _id: snapshotId },
        { projection: { _id: 1, kind: 1, state: 1 } },
      );
      if (!snapshot) throw new NotFoundError("DatasetSnapshot", snapshotId.toHexString());
      if (snapshot.state !== "ready")
        throw new ConflictError(
          `dataset snapshot ${snapshotId.toHexString()} is ${snapshot.state}; only ready snapshots are pushed`,
        );
      const payload: DatasetPushPayload = {
        snapshotId: snapshotId.toHexString(),
        datasetName: name || defaultDatasetName(snapshot),
      };
      const result = await jobs.enqueue(
        DATASET_PUSH_JOB,
        { ...payload },
        {
          key: `${DATASET_PUSH_JOB}:${payload.snapshotId}`,
        },
      );
      if (!result.created && result.job.state === "dead")
        return { job: await jobs.retry(result.job._id), created: false };
      return result;
    },
    async runDatasetPush(context) {
      if (!datasetPush) {
        deps.logger.warn(
          { snapshotId: context.job.payload.snapshotId },
          "dataset push skipped: LangSmith is not configured",
        );
        return;
      }
      try {
        await datasetPush.run(context);
      } catch (error) {
        observer?.failed("langsmith", "push");
        throw error;
      }
    },
    async status() {
      const states = new Map((await deps.state.list()).map((doc) => [doc._id, doc]));
      const now = clock.now().getTime();
      return integrationNames.map((name) => ({
        name,
        enabled: enabled.includes(name),
        circuit: circuits.get(name)?.() ?? "closed",
        directions: syncDirections.map((direction) => {
          const state = states.get(`${name}:${direction}`) ?? null;
          return {
            direction,
            state,
            lagSeconds: state?.lastSuccessAt
              ? Math.max(0, (now - state.lastSuccessAt.getTime()) / 1000)
              : null,
          };
        }),
      }));
    },
    async expertAgreement(key) {
      const docs = await deps.collections.feedback
        .find(
          { source: "expert", key, status: "active" },
          {
            projection: {
              interactionId: 1,
              annotatorId: 1,
              rating: 1,
              binary: 1,
              comparison: 1,
              kind: 1,
            },
          },
        )
        .toArray();
      const units = new Map<string, Map<string, string | number | boolean>>();
      let numeric = true;
      for (const doc of docs) {
        const value = doc.rating?.score ?? doc.binary?.positive ?? doc.comparison?.preferred;
        const unit =
          doc.interactionId?.toHexString() ?? doc.comparison?.a.interactionId?.toHexString();
        if (value === undefined || !unit || !doc.annotatorId) continue;
        if (typeof value !== "number") numeric = false;
        const byAnnotator = units.get(unit) ?? new Map();
        byAnnotator.set(doc.annotatorId, value);
        units.set(unit, byAnnotator);
      }
      const values = [...units.values()].map((unit) => [...unit.values()]);
      const alpha = krippendorffAlpha(values, numeric ? "ordinal" : "nominal");
      const pairwise = pairwiseAgreement(values);
      return {
        key,
        items: values.filter((unit) => unit.length >= 2).length,
        annotators: new Set([...units.values()].flatMap((unit) => [...unit.keys()])).size,
        alpha: alpha?.alpha ?? null,
        pairwise: pairwise?.agreement ?? null,
      };
    },
    observe(next) {
      observer = next;
    },
  };
}
