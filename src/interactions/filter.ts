import type { Filter } from "mongodb";
import { ValidationError } from "../errors.js";
import type { InteractionDoc } from "../store/documents.js";

export interface TimeRange {
  readonly from?: Date | null;
  readonly to?: Date | null;
}

/** What analysts can narrow interactions by; every field maps onto an indexed path. */
export interface InteractionFilter {
  readonly createdAt?: TimeRange | null;
  readonly modelId?: string | null;
  readonly modelVersion?: string | null;
  readonly sessionId?: string | null;
  /** The pseudonymous user id, as shown in results. */
  readonly userId?: string | null;
  readonly traceRunId?: string | null;
  readonly hasCorrection?: boolean | null;
  readonly flagged?: boolean | null;
  readonly search?: string | null;
}

export function timeRange(range: TimeRange | null | undefined, path: string) {
  if (!range) return undefined;
  const bounds: { $gte?: Date; $lt?: Date } = {};
  if (range.from) bounds.$gte = range.from;
  if (range.to) bounds.$lt = range.to;
  if (range.from && range.to && range.from >= range.to) {
    throw new ValidationError([{ path: `${path}.to`, message: "must be later than from" }]);
  }
  return Object.keys(bounds).length > 0 ? bounds : undefined;
}

export function searchTerms(search: string | null | undefined): string | undefined {
  const trimmed = search?.trim();
  if (!trimmed) return undefined;
  if (trimmed.length > 500) {
    throw new ValidationError([
      { path: "filter.search", message: "must be at most 500 characters" },
    ]);
  }
  return trimmed;
}

export function interactionQuery(filter: InteractionFilter = {}): Filter<InteractionDoc> {
  const query: Filter<InteractionDoc> = {};
  const created = timeRange(filter.createdAt, "filter.createdAt");
  if (created) query.createdAt = created;
  if (filter.modelId) query["model.id"] = filter.modelId;
  if (filter.modelVersion) query["model.version"] = filter.modelVersion;
  if (filter.sessionId) query.sessionId = filter.sessionId;
  if (filter.userId) query.userId = filter.userId;
  if (filter.traceRunId) query["trace.runId"] = filter.traceRunId;
  if (filter.hasCorrection !== null && filter.hasCorrection !== undefined) {
    query["feedbackSummary.hasCorrection"] = filter.hasCorrection;
  }
  if (filter.flagged !== null && filter.flagged !== undefined) {
    query["feedbackSummary.flagged"] = filter.flagged;
  }
  const search = searchTerms(filter.search);
  if (search) query.$text = { $search: search };
  return query;
}
