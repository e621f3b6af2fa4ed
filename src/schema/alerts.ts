import type { IncidentDoc, RetrainingRequestDoc } from "../store/alert-docs.js";
import { type BuilderTypes, builder } from "./builder.js";
import { enumOf } from "./common.js";

export const AlertSourceEnum = enumOf(
  "AlertSource",
  "Which system sent the alert to /hooks/alerts.",
  {
    alertmanager: "Prometheus Alertmanager (webhook payload version 4).",
    grafana: "Grafana unified alerting (webhook payload version 1).",
  },
);

export const AlertActionEnum = enumOf(
  "RetrainingAction",
  "What a retraining trigger asks for (the alert's loopgate_action label).",
  {
    retrain: "Retrain the model on the collected feedback.",
    rag_update: "Update the RAG index with the missing knowledge.",
  },
);

export const AlertRequirementEnum = enumOf(
  "RetrainingRequirement",
  "The seed's requirement level of the trigger (the alert's loopgate_requirement label).",
  {
    must: "MUST: the seed requires the action.",
    should: "SHOULD: the seed recommends the action.",
  },
);

export const RetrainingRequestStateEnum = enumOf(
  "RetrainingRequestState",
  "Where a retraining request stands.",
  { requested: "Stored from a trigger alert; no retraining run has taken it yet." },
);

export const IncidentStatusEnum = enumOf("IncidentStatus", "Whether the alert still fires.", {
  firing: "The alert fires (no resolved notification arrived yet).",
  resolved: "The sender reported the alert resolved.",
});

type AlertRecord = RetrainingRequestDoc | IncidentDoc;

/** Fields every alert record shares, defined once for both types. */
function alertRecordFields<Doc extends AlertRecord>(
  t: PothosSchemaTypes.ObjectFieldBuilder<BuilderTypes, Doc>,
) {
  return {
    id: t.id({
      description: "Database id of the record.",
      resolve: (record) => record._id.toHexString(),
    }),
    source: t.field({
      type: AlertSourceEnum,
      description: "Which system sent the alert.",
      resolve: (record) => record.source,
    }),
    alertName: t.string({
      description: "The alert's name (its alertname label).",
      resolve: (record) => record.alertname,
    }),
    modelId: t.string({
      nullable: true,
      description: "The model the alert is about (its model label), when it names one.",
      resolve: (record) => record.model,
    }),
    fingerprint: t.string({
      description: "The sender's fingerprint of the alert's label set.",
      resolve: (record) => record.fingerprint,
    }),
    startsAt: t.field({
      type: "DateTime",
      description: "Start of the firing period; with the fingerprint, it identifies the record.",
      resolve: (record) => record.startsAt,
    }),
    resolvedAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the sender reported the alert resolved; null while it fires.",
      resolve: (record) => record.resolvedAt,
    }),
    firstNotifiedAt: t.field({
      type: "DateTime",
      description: "When Loopgate received the first notification of this firing period.",
      resolve: (record) => record.firstNotifiedAt,
    }),
    lastNotifiedAt: t.field({
      type: "DateTime",
      description: "When Loopgate received the latest notification.",
      resolve: (record) => record.lastNotifiedAt,
    }),
    notifications: t.int({
      description: "Notifications received for this firing period (repeats and retries included).",
      resolve: (record) => record.notifications,
    }),
    labels: t.field({
      type: "JSONObject",
      description: "The alert's labels, as of the latest notification.",
      resolve: (record) => record.labels,
    }),
    annotations: t.field({
      type: "JSONObject",
      description: "The alert's annotations (summary, description with the value, runbook_url).",
      resolve: (record) => record.annotations,
    }),
    values: t.field({
      type: "JSONObject",
      nullable: true,
      description: "Grafana's evaluated values by query refId; null for Alertmanager alerts.",
      resolve: (record) => record.values,
    }),
    generatorUrl: t.string({
      nullable: true,
      description: "Link to the rule or query that produced the alert.",
      resolve: (record) => record.generatorUrl,
    }),
  };
}

export const RetrainingRequestType = builder
  .objectRef<RetrainingRequestDoc>("RetrainingRequest")
  .implement({
    description:
      "A retraining trigger alert (labelled loopgate_action) received at /hooks/alerts, waiting for a retraining run: one per alert firing period.",
    fields: (t) => ({
      ...alertRecordFields(t),
      state: t.field({
        type: RetrainingRequestStateEnum,
        description: "Where the request stands.",
        resolve: (request) => request.state,
      }),
      action: t.field({
        type: AlertActionEnum,
        description: "What the trigger asks for.",
        resolve: (request) => request.action,
      }),
      requirement: t.field({
        type: AlertRequirementEnum,
        description: "MUST or SHOULD, per the seed's retraining triggers.",
        resolve: (request) => request.requirement,
      }),
      reason: t.exposeString("reason", { description: "Why: the alert's summary." }),
    }),
  });

export const IncidentType = builder.objectRef<IncidentDoc>("Incident").implement({
  description:
    "Any other alert received at /hooks/alerts: what fired, for how long and whether it resolved; one per alert firing period.",
  fields: (t) => ({
    ...alertRecordFields(t),
    status: t.field({
      type: IncidentStatusEnum,
      description: "FIRING until a resolved notification arrives.",
      resolve: (incident) => incident.status,
    }),
    severity: t.string({
      nullable: true,
      description: "The alert's severity label (critical, warning, info).",
      resolve: (incident) => incident.severity,
    }),
    summary: t.string({
      nullable: true,
      description: "The alert's summary annotation.",
      resolve: (incident) => incident.summary,
    }),
  }),
});
