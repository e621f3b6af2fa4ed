import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from "../errors.js";
import { builder } from "./builder.js";

/** Every expected failure implements this, so clients can always ask `... on Error { message }`. */
export const ErrorInterface = builder.interfaceRef<DomainError>("Error").implement({
  description: "An expected failure. Nothing was changed when a mutation returns one.",
  fields: (t) => ({
    message: t.exposeString("message", { description: "What went wrong, for humans." }),
    code: t.exposeString("code", { description: "A stable machine-readable code." }),
  }),
});

const FieldProblemRef = builder
  .objectRef<{ path: string; message: string }>("FieldProblem")
  .implement({
    description: "One invalid input field.",
    fields: (t) => ({
      path: t.exposeString("path", {
        description: "Dotted path of the field, e.g. `input.rating.score`.",
      }),
      message: t.exposeString("message", { description: "Why the value was rejected." }),
    }),
  });

builder.objectType(ValidationError, {
  name: "ValidationError",
  description: "The input was rejected; `fields` names every offending field.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    fields: t.field({
      type: [FieldProblemRef],
      description: "Every invalid field with the reason.",
      resolve: (error) => [...error.fields],
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  description: "A referenced object does not exist (or is not visible to this credential).",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    resource: t.exposeString("resource", { description: "The kind of object, e.g. Interaction." }),
    id: t.exposeString("id", { description: "The id that was looked up." }),
  }),
});

builder.objectType(ConflictError, {
  name: "ConflictError",
  description:
    "The request contradicts stored state, e.g. an idempotency key reused with other data.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
});

builder.objectType(ForbiddenError, {
  name: "ForbiddenError",
  description: "The credential lacks the scope this operation needs, or is invalid or expired.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
});

/** The error types every mutation can return. */
export const mutationErrors = [
  ValidationError,
  NotFoundError,
  ConflictError,
  ForbiddenError,
] as const;
