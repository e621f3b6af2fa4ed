import { actorOf } from "../auth/actor.js";
import { parseId } from "../ids.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection } from "../schema/common.js";
import {
  ConflictDecisionEnum,
  ConflictRef,
  ConflictStatusEnum,
  ResolveConflictResult,
} from "../schema/conflicts.js";

builder.queryFields((t) => ({
  conflict: t.field({
    type: ConflictRef,
    nullable: true,
    authScopes: { read: true },
    description: "One conflict by id (global ID or database id).",
    args: { id: t.arg.id({ required: true, description: "The conflict's id." }) },
    resolve: (_root, args, context) =>
      context.loaders.conflict.load(parseId(String(args.id), ["Conflict"], "id")),
  }),
  conflicts: t.connection(
    {
      type: ConflictRef,
      authScopes: { read: true },
      description: "Disagreements between raters, most recently detected first.",
      args: {
        status: t.arg({
          type: ConflictStatusEnum,
          description: "Only OPEN or only RESOLVED conflicts.",
        }),
        modelId: t.arg.string({ description: "Only conflicts about this model's answers." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.conflicts.list(
            { status: args.status ?? null, modelId: args.modelId ?? null },
            args,
          ),
        ),
    },
    countedConnection("ConflictConnection", "conflicts", "most recently detected first"),
    { name: "ConflictEdge", description: "One conflict and its cursor." },
  ),
}));

builder.mutationFields((t) => ({
  resolveConflict: t.field({
    type: ResolveConflictResult,
    authScopes: { admin: true },
    description:
      "Settles a disagreement; the decision guides which judgements become training data.",
    args: {
      id: t.arg.id({ required: true, description: "The conflict." }),
      decision: t.arg({ type: ConflictDecisionEnum, required: true, description: "The decision." }),
      note: t.arg.string({ description: "Why." }),
    },
    resolve: (_root, args, context) =>
      context.services.conflicts.resolve(
        parseId(String(args.id), ["Conflict"], "id"),
        { decision: args.decision, note: args.note ?? null },
        actorOf(context.principal),
      ),
  }),
}));
