import type { Filter } from "mongodb";
import type { AlertAction } from "../../observability/thresholds.js";
import type {
  IncidentDoc,
  IncidentStatus,
  RetrainingRequestDoc,
  RetrainingRequestState,
} from "../../store/alert-docs.js";
import type { Collections } from "../../store/mongo.js";
import { type Page, type PageArgs, paginateBy } from "../../store/pagination.js";

export interface RetrainingRequestFilter {
  readonly state?: RetrainingRequestState | null;
  readonly action?: AlertAction | null;
  readonly modelId?: string | null;
}

export interface IncidentFilter {
  readonly status?: IncidentStatus | null;
  readonly modelId?: string | null;
}

/** The query of a retraining-request listing (every path is indexed in store/schema.ts). */
export function retrainingRequestQuery(
  filter: RetrainingRequestFilter,
): Filter<RetrainingRequestDoc> {
  const query: Filter<RetrainingRequestDoc> = {};
  if (filter.state) query.state = filter.state;
  if (filter.action) query.action = filter.action;
  if (filter.modelId) query.model = filter.modelId;
  return query;
}

export function incidentQuery(filter: IncidentFilter): Filter<IncidentDoc> {
  const query: Filter<IncidentDoc> = {};
  if (filter.status) query.status = filter.status;
  if (filter.modelId) query.model = filter.modelId;
  return query;
}

export interface AlertRecordsService {
  /** Retraining requests, newest firing period first. */
  listRetrainingRequests(
    filter: RetrainingRequestFilter,
    page: PageArgs,
  ): Promise<Page<RetrainingRequestDoc>>;
  /** Incidents, newest firing period first. */
  listIncidents(filter: IncidentFilter, page: PageArgs): Promise<Page<IncidentDoc>>;
}

export function createAlertRecordsService(deps: {
  collections: Pick<Collections, "retrainingRequests" | "incidents">;
}): AlertRecordsService {
  const { collections } = deps;
  return {
    listRetrainingRequests: (filter, page) =>
      paginateBy(collections.retrainingRequests, retrainingRequestQuery(filter), page, "startsAt"),
    listIncidents: (filter, page) =>
      paginateBy(collections.incidents, incidentQuery(filter), page, "startsAt"),
  };
}
