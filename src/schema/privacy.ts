import { ForbiddenError, ValidationError } from "../errors.js";
import { type ErasureReport, erasureModes } from "../privacy/erasure.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";

export const ErasureModeEnum = enumOf(
  "ErasureMode",
  "How eraseUser treats a user's data.",
  Object.fromEntries(
    erasureModes.map((mode) => [
      mode,
      mode === "delete"
        ? "Delete the user's interactions, their feedback and all feedback about those interactions."
        : "Keep text-free signals (kind, sentiment, score) but remove all text and every link to the user.",
    ]),
  ) as Record<(typeof erasureModes)[number], string>,
);

export const ErasureReportType = builder.objectRef<ErasureReport>("ErasureReport").implement({
  description: "What eraseUser did.",
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "erasedAt" in value && "mode" in value,
  fields: (t) => ({
    userId: t.exposeString("userId", { description: "The pseudonymous id that was erased." }),
    mode: t.field({
      type: ErasureModeEnum,
      description: "DELETE or ANONYMIZE.",
      resolve: (report) => report.mode,
    }),
    interactions: t.exposeInt("interactions", {
      description: "The user's interactions deleted or anonymized.",
    }),
    feedback: t.exposeInt("feedback", {
      description: "Feedback by the user or about the user's interactions, deleted or anonymized.",
    }),
    conflictsUpdated: t.exposeInt("conflictsUpdated", {
      description: "Conflicts deleted or re-evaluated.",
    }),
    erasedAt: t.expose("erasedAt", { type: "DateTime", description: "When." }),
  }),
});

export const EraseUserResult = builder.errorUnion("EraseUserResult", {
  description: "What was erased, or why nothing was.",
  types: [ErasureReportType, ValidationError, ForbiddenError],
});
