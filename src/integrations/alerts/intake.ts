import { type AnyBulkWriteOperation, type BulkWriteResult, MongoBulkWriteError } from "mongodb";
import type { Clock } from "../../clock.js";
import type { IncidentDoc, RetrainingRequestDoc } from "../../store/alert-docs.js";
import type { Collections } from "../../store/mongo.js";
import type { AlertNotification, ReceivedAlert } from "./payload.js";

export interface AlertIntakeResult {
  /** Alerts in the notification. */
  readonly received: number;
  /** Retraining requests this notification created (first notification of a firing period). */
  readonly retrainingRequestsCreated: number;
  readonly retrainingRequestsUpdated: number;
  readonly incidentsCreated: number;
  readonly incidentsUpdated: number;
}

export interface AlertIntakeService {
  /**
   * Stores what a notification says: retraining triggers become retraining requests, other
   * alerts incidents. Idempotent per alert fingerprint and firing period (`startsAt`), so
   * repeats and retries update the same documents.
   */
  receive(notification: AlertNotification): Promise<AlertIntakeResult>;
}

/** One firing period of one alert from one sender. */
export function alertRecordId(alert: ReceivedAlert): string {
  return `${alert.source}:${alert.fingerprint}:${alert.startsAt.toISOString()}`;
}

/** Fields a later notification may refresh (annotations carry the latest value). */
function refreshed(alert: ReceivedAlert, now: Date) {
  return {
    lastNotifiedAt: now,
    labels: alert.labels,
    annotations: alert.annotations,
    values: alert.values,
  };
}

function created(alert: ReceivedAlert, now: Date) {
  return {
    source: alert.source,
    alertname: alert.alertname,
    fingerprint: alert.fingerprint,
    startsAt: alert.startsAt,
    model: alert.labels.model ?? null,
    generatorUrl: alert.generatorUrl,
    firstNotifiedAt: now,
  };
}

/**
 * A resolved notification sets `resolvedAt`; a firing one never clears it, so a delayed or
 * retried firing notification cannot reopen a firing period that already ended.
 */
function resolution(alert: ReceivedAlert, now: Date) {
  return alert.status === "resolved"
    ? { set: { resolvedAt: alert.endsAt ?? now }, insert: {} }
    : { set: {}, insert: { resolvedAt: null } };
}

/**
 * Two senders (an Alertmanager HA pair) notifying the same new alert at once race for one id; the
 * loser's upsert fails with a duplicate key and, repeated, updates the winner's document.
 */
async function upsertAll(write: () => Promise<BulkWriteResult>): Promise<BulkWriteResult> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof MongoBulkWriteError && error.code === 11000) return write();
    throw error;
  }
}

export function createAlertIntakeService(deps: {
  collections: Pick<Collections, "retrainingRequests" | "incidents">;
  clock: Clock;
}): AlertIntakeService {
  const { collections, clock } = deps;
  return {
    async receive(notification) {
      const now = clock.now();
      const requests: AnyBulkWriteOperation<RetrainingRequestDoc>[] = [];
      const incidents: AnyBulkWriteOperation<IncidentDoc>[] = [];
      // One alert listed twice in a notification would be two upserts racing for one new id.
      const unique = new Map(notification.alerts.map((alert) => [alertRecordId(alert), alert]));
      for (const alert of unique.values()) {
        const end = resolution(alert, now);
        if (alert.trigger) {
          requests.push({
            updateOne: {
              filter: { alertKey: alertRecordId(alert) },
              update: {
                $setOnInsert: {
                  ...created(alert, now),
                  ...end.insert,
                  state: "requested",
                  action: alert.trigger.action,
                  requirement: alert.trigger.requirement,
                  reason: alert.annotations.summary ?? alert.alertname,
                },
                $set: { ...refreshed(alert, now), ...end.set },
                $inc: { notifications: 1 },
              },
              upsert: true,
            },
          });
        } else {
          incidents.push({
            updateOne: {
              filter: { alertKey: alertRecordId(alert) },
              update: {
                $setOnInsert: {
                  ...created(alert, now),
                  ...end.insert,
                  ...(alert.status === "firing" ? { status: "firing" as const } : {}),
                },
                $set: {
                  ...refreshed(alert, now),
                  ...end.set,
                  ...(alert.status === "resolved" ? { status: "resolved" as const } : {}),
                  severity: alert.labels.severity ?? null,
                  summary: alert.annotations.summary ?? null,
                },
                $inc: { notifications: 1 },
              },
              upsert: true,
            },
          });
        }
      }
      // One round trip per collection whatever the group size; unordered because the alerts are
      // independent of each other.
      const [requestResult, incidentResult] = await Promise.all([
        requests.length > 0
          ? upsertAll(() => collections.retrainingRequests.bulkWrite(requests, { ordered: false }))
          : undefined,
        incidents.length > 0
          ? upsertAll(() => collections.incidents.bulkWrite(incidents, { ordered: false }))
          : undefined,
      ]);
      return {
        received: notification.alerts.length,
        retrainingRequestsCreated: requestResult?.upsertedCount ?? 0,
        retrainingRequestsUpdated: requestResult?.matchedCount ?? 0,
        incidentsCreated: incidentResult?.upsertedCount ?? 0,
        incidentsUpdated: incidentResult?.matchedCount ?? 0,
      };
    },
  };
}
