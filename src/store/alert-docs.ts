import type { ObjectId } from "mongodb";
import type { AlertAction, AlertRequirement } from "../observability/thresholds.js";

/** Which system sent an alert notification. */
export const alertSources = ["alertmanager", "grafana"] as const;
export type AlertSource = (typeof alertSources)[number];

/**
 * What one notification says about one alert, shared by the retraining request and the incident
 * it becomes. `alertKey` is `<source>:<fingerprint>:<startsAt>` (unique): one alert's firing
 * period, so repeated notifications (Alertmanager's repeat_interval, retries) land on the same
 * document.
 */
interface AlertRecordFields {
  _id: ObjectId;
  alertKey: string;
  source: AlertSource;
  alertname: string;
  fingerprint: string;
  /** Start of the firing period. */
  startsAt: Date;
  /** Model id from the alert's `model` label, when it has one. */
  model: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Grafana's evaluated values by query refId; Alertmanager sends none (see `description`). */
  values: Record<string, number | null> | null;
  generatorUrl: string | null;
  /** When the sender reported the alert resolved (its `endsAt`); null while it fires. */
  resolvedAt: Date | null;
  firstNotifiedAt: Date;
  lastNotifiedAt: Date;
  /** Notifications received for this firing period (repeats and retries included). */
  notifications: number;
}

/** States of a retraining request; the retraining runs move it on from `requested`. */
export const retrainingRequestStates = ["requested"] as const;
export type RetrainingRequestState = (typeof retrainingRequestStates)[number];

/** A retraining trigger (an alert labelled `loopgate_action`) waiting for a retraining run. */
export interface RetrainingRequestDoc extends AlertRecordFields {
  state: RetrainingRequestState;
  action: AlertAction;
  requirement: AlertRequirement;
  /** Why: the alert's summary (its description holds the value). */
  reason: string;
}

export const incidentStatuses = ["firing", "resolved"] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];

/** Any other alert: a record of what fired, for how long, and whether it resolved. */
export interface IncidentDoc extends AlertRecordFields {
  status: IncidentStatus;
  severity: string | null;
  summary: string | null;
}
