import { actorOf } from "../auth/actor.js";
import { builder } from "../schema/builder.js";
import { EraseUserResult, ErasureModeEnum } from "../schema/privacy.js";

builder.mutationFields((t) => ({
  eraseUser: t.field({
    type: EraseUserResult,
    authScopes: { admin: true },
    description:
      "Erases everything of one user (the seed: MUST respect user privacy) and reports what it did. Safe to repeat.",
    args: {
      userId: t.arg.string({
        required: true,
        description: "The product's user id, as sent in recordInteraction.",
      }),
      mode: t.arg({
        type: ErasureModeEnum,
        defaultValue: "delete",
        description: "DELETE or ANONYMIZE.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.erasure.eraseUser(
        { userId: args.userId, mode: args.mode ?? "delete" },
        actorOf(context.principal),
      ),
  }),
}));
