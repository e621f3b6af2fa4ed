import { builder } from "../schema/builder.js";
import { ServerInfoRef } from "../schema/system.js";

builder.queryType({
  description: "Reads: interactions, feedback, aggregates and configuration.",
});

builder.mutationType({
  description: "Writes: interactions, feedback, and administration.",
});

builder.subscriptionType({
  description: "Live streams over server-sent events (send `Accept: text/event-stream`).",
});

builder.queryField("serverInfo", (t) =>
  t.field({
    type: ServerInfoRef,
    description: "Version and store of this instance; needs no credentials.",
    resolve: (_root, _args, context) => context.services.system.info(),
  }),
);
