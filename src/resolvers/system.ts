import { BODY_LIMITS, formatBytes } from "../body-limits.js";
import { builder } from "../schema/builder.js";
import { ServerInfoRef } from "../schema/system.js";

builder.queryType({
  description: "Reads: interactions, feedback, aggregates and configuration.",
});

builder.mutationType({
  description: `Writes: interactions, feedback, and administration. Request bodies are limited per operation: ${formatBytes(BODY_LIMITS.batch)} for recordInteractions, ${formatBytes(BODY_LIMITS.interaction)} for recordInteraction, ${formatBytes(BODY_LIMITS.feedback)} for one feedback, ${formatBytes(BODY_LIMITS.default)} for anything else, ${formatBytes(BODY_LIMITS.anonymous)} without a credential; over the limit the answer is HTTP 413 (PAYLOAD_TOO_LARGE). A body over ${formatBytes(BODY_LIMITS.default)} must send "query" before "variables".`,
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
