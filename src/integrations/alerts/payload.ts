import { z } from "zod";
import {
  type AlertAction,
  type AlertRequirement,
  alertActions,
  alertLabels,
  alertRequirements,
} from "../../observability/thresholds.js";
import type { AlertSource } from "../../store/alert-docs.js";

/** Limits of one notification; a sender that exceeds them gets 400 and nothing is stored. */
export const alertPayloadLimits = {
  alerts: 1000,
  labels: 64,
  nameLength: 128,
  labelValueLength: 1024,
  annotationValueLength: 16_384,
} as const;

/**
 * Label, annotation and value names become keys of stored documents, so only Prometheus-style
 * names are accepted (no `$` or `.`, which MongoDB treats specially).
 */
const name = z
  .string()
  .max(alertPayloadLimits.nameLength)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a Prometheus-style name");
const stringMap = (valueLength: number) =>
  z
    .record(name, z.string().max(valueLength))
    .refine((map) => Object.keys(map).length <= alertPayloadLimits.labels, {
      message: `at most ${alertPayloadLimits.labels} entries`,
    });
const timestamp = z.iso.datetime({ offset: true });

const alertSchema = z.looseObject({
  status: z.enum(["firing", "resolved"]),
  labels: stringMap(alertPayloadLimits.labelValueLength).refine((labels) => !!labels.alertname, {
    message: "must contain alertname",
  }),
  annotations: stringMap(alertPayloadLimits.annotationValueLength).default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, "must be an alert fingerprint"),
  // Grafana only: the evaluated value of each query by refId.
  values: z
    .record(name, z.number().nullable())
    .refine((map) => Object.keys(map).length <= alertPayloadLimits.labels)
    .nullable()
    .optional(),
});

const common = {
  groupKey: z.string().max(4096),
  status: z.enum(["firing", "resolved"]),
  receiver: z.string().max(1024),
  alerts: z.array(alertSchema).min(1).max(alertPayloadLimits.alerts),
};

/** Alertmanager's webhook body (`version: "4"`, Alertmanager 0.x). */
const alertmanagerSchema = z.looseObject({ version: z.literal("4"), ...common });
/** Grafana unified alerting's default webhook body (`version: "1"` with `orgId`). */
const grafanaSchema = z.looseObject({ version: z.literal("1"), orgId: z.number(), ...common });

export interface ReceivedAlert {
  readonly source: AlertSource;
  readonly status: "firing" | "resolved";
  readonly alertname: string;
  readonly fingerprint: string;
  readonly startsAt: Date;
  readonly endsAt: Date | null;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly values: Record<string, number | null> | null;
  readonly generatorUrl: string | null;
  /** Set on retraining triggers only. */
  readonly trigger: { action: AlertAction; requirement: AlertRequirement } | null;
}

export interface AlertNotification {
  readonly source: AlertSource;
  readonly receiver: string;
  readonly groupKey: string;
  readonly alerts: readonly ReceivedAlert[];
}

export type ParseResult =
  | { readonly ok: true; readonly notification: AlertNotification }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Alertmanager and Grafana write the zero time for "not resolved yet". */
function endTime(value: string | undefined): Date | null {
  if (!value) return null;
  const time = new Date(value);
  return time.getUTCFullYear() <= 1 ? null : time;
}

const actionSchema = z.enum(alertActions);
const requirementSchema = z.enum(alertRequirements);

/**
 * Validates a whole notification before anything is stored: one malformed alert refuses the
 * notification (and the sender sees why), so a half-stored group never exists.
 */
export function parseAlertNotification(body: unknown): ParseResult {
  const version = (body as { version?: unknown } | null)?.version;
  const source: AlertSource | undefined =
    version === "4" ? "alertmanager" : version === "1" ? "grafana" : undefined;
  if (!source) {
    return {
      ok: false,
      problems: [
        `version: expected "4" (Alertmanager) or "1" (Grafana), got ${JSON.stringify(version ?? null)}`,
      ],
    };
  }
  const parsed = (source === "alertmanager" ? alertmanagerSchema : grafanaSchema).safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`),
    };
  }
  const problems: string[] = [];
  const alerts = parsed.data.alerts.map((alert, index): ReceivedAlert => {
    const actionLabel = alert.labels[alertLabels.action];
    const requirementLabel = alert.labels[alertLabels.requirement];
    let trigger: ReceivedAlert["trigger"] = null;
    if (actionLabel !== undefined) {
      const action = actionSchema.safeParse(actionLabel);
      // Without a requirement label the seed's weaker level applies.
      const requirement = requirementSchema.safeParse(requirementLabel ?? "should");
      if (!action.success) {
        problems.push(
          `alerts.${index}.labels.${alertLabels.action}: must be one of ${alertActions.join(", ")}`,
        );
      }
      if (!requirement.success) {
        problems.push(
          `alerts.${index}.labels.${alertLabels.requirement}: must be one of ${alertRequirements.join(", ")}`,
        );
      }
      if (action.success && requirement.success)
        trigger = { action: action.data, requirement: requirement.data };
    }
    return {
      source,
      status: alert.status,
      alertname: alert.labels.alertname!,
      fingerprint: alert.fingerprint,
      startsAt: new Date(alert.startsAt),
      endsAt: endTime(alert.endsAt),
      labels: alert.labels,
      annotations: alert.annotations,
      values: alert.values ?? null,
      generatorUrl: alert.generatorURL || null,
      trigger,
    };
  });
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    notification: {
      source,
      receiver: parsed.data.receiver,
      groupKey: parsed.data.groupKey,
      alerts,
    },
  };
}
