import { actorOf } from "../auth/actor.js";
import { parseId } from "../ids.js";
import { MAX_CLOSE_NOTE } from "../pipeline/routed-items.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection } from "../schema/common.js";
import { JobRef } from "../schema/jobs.js";
import {
  CloseRoutedItemResult,
  RoutedItemRef,
  RoutedItemStateEnum,
  RouteNameEnum,
} from "../schema/pipeline.js";

builder.queryFields((t) => ({
  routedItems: t.connection(
    {
      type: RoutedItemRef,
      authScopes: { read: true },
      description:
        "Items the pipeline's action router opened, newest first (at most 200 per page).",
      args: {
        route: t.arg({ type: RouteNameEnum, description: "Only items of this route." }),
        state: t.arg({ type: RoutedItemStateEnum, description: "Only OPEN or only CLOSED items." }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.pipeline.routedItems.list(
            { route: args.route ?? null, state: args.state ?? null },
            args,
          ),
        ),
    },
    countedConnection("RoutedItemConnection", "routed items", "newest first"),
    { name: "RoutedItemEdge", description: "One routed item and its cursor." },
  ),
}));

builder.mutationFields((t) => ({
  // Admin: closing decides that a team's work is done, which ingest keys (held by frontends and
  // backends) and read keys (analysts) must not decide. Integrations close items as system actors.
  closeRoutedItem: t.field({
    type: CloseRoutedItemResult,
    authScopes: { admin: true },
    description: `Closes an open routed item (needs ADMIN); later feedback of its group opens a new one. An item already closed is refused (ConflictError). The note holds at most ${MAX_CLOSE_NOTE} characters.`,
    args: {
      id: t.arg.id({ required: true, description: "The routed item." }),
      note: t.arg.string({ description: `What was done (at most ${MAX_CLOSE_NOTE} characters).` }),
    },
    resolve: (_root, args, context) =>
      context.services.pipeline.routedItems.close(
        parseId(String(args.id), ["RoutedItem"], "id"),
        args.note ?? null,
        actorOf(context.principal),
      ),
  }),
  startPipelineBackfill: t.field({
    type: JobRef,
    authScopes: { admin: true },
    description:
      'Re-runs the processing pipeline over all stored feedback as a durable, checkpointed job (needs ADMIN); follow it with `job(id)` or `jobs(type: "pipeline.backfill")`, whose `progress` holds processed and total. While a backfill is queued, running or dead, this returns it instead of starting another (a dead one runs again with `retryJob`).',
    resolve: async (_root, _args, context) =>
      (await context.services.pipeline.startBackfill(actorOf(context.principal))).job,
  }),
}));
