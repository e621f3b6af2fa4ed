import {
  AlertActionEnum,
  IncidentStatusEnum,
  IncidentType,
  RetrainingRequestStateEnum,
  RetrainingRequestType,
} from "../schema/alerts.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection } from "../schema/common.js";

builder.queryFields((t) => ({
  retrainingRequests: t.connection(
    {
      type: RetrainingRequestType,
      authScopes: { $any: { read: true, admin: true } },
      description:
        "Retraining requests stored from trigger alerts at /hooks/alerts, newest firing period first (pages of at most 200).",
      args: {
        state: t.arg({
          type: RetrainingRequestStateEnum,
          description: "Only requests in this state.",
        }),
        action: t.arg({
          type: AlertActionEnum,
          description: "Only requests asking for this action.",
        }),
        modelId: t.arg.string({ description: "Only requests about this model (its model label)." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.alerts.listRetrainingRequests(
            {
              state: args.state ?? null,
              action: args.action ?? null,
              modelId: args.modelId ?? null,
            },
            args,
          ),
        ),
    },
    countedConnection(
      "RetrainingRequestConnection",
      "retraining requests",
      "newest firing period first",
    ),
    { name: "RetrainingRequestEdge", description: "One retraining request and its cursor." },
  ),
  incidents: t.connection(
    {
      type: IncidentType,
      authScopes: { $any: { read: true, admin: true } },
      description:
        "Alerts other than retraining triggers received at /hooks/alerts, newest firing period first (pages of at most 200).",
      args: {
        status: t.arg({
          type: IncidentStatusEnum,
          description: "Only FIRING or only RESOLVED incidents.",
        }),
        modelId: t.arg.string({
          description: "Only incidents about this model (its model label).",
        }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.alerts.listIncidents(
            { status: args.status ?? null, modelId: args.modelId ?? null },
            args,
          ),
        ),
    },
    countedConnection("IncidentConnection", "incidents", "newest firing period first"),
    { name: "IncidentEdge", description: "One incident and its cursor." },
  ),
}));
