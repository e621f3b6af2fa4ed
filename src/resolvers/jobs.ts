import { ValidationError } from "../errors.js";
import { parseId } from "../ids.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection } from "../schema/common.js";
import { CancelJobResult, JobRef, JobStateEnum, RetryJobResult } from "../schema/jobs.js";

const jobId = (id: string | number) => parseId(String(id), ["Job"], "id");

builder.queryFields((t) => ({
  jobs: t.connection(
    {
      type: JobRef,
      authScopes: { admin: true },
      description: "Jobs of the durable queue, newest first.",
      args: {
        type: t.arg.string({
          description: "Only jobs of this type (one of the types declared in code).",
        }),
        state: t.arg({ type: JobStateEnum, description: "Only jobs in this state." }),
      },
      resolve: async (_root, args, context) => {
        const { jobs } = context.services;
        if (args.type && !jobs.types.has(args.type)) {
          const known = [...jobs.types.keys()];
          throw new ValidationError([
            {
              path: "type",
              message: `unknown job type (known: ${known.length > 0 ? known.join(", ") : "none"})`,
            },
          ]);
        }
        return toConnection(
          await jobs.list({ type: args.type ?? null, state: args.state ?? null }, args),
        );
      },
    },
    countedConnection("JobConnection", "jobs", "newest first"),
    { name: "JobEdge", description: "One job and its cursor." },
  ),
  job: t.field({
    type: JobRef,
    nullable: true,
    authScopes: { admin: true },
    description: "One job by id (global ID or database id), with its attempts and last error.",
    args: { id: t.arg.id({ required: true, description: "The job's id." }) },
    resolve: (_root, args, context) => context.services.jobs.get(jobId(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  retryJob: t.field({
    type: RetryJobResult,
    authScopes: { admin: true },
    description:
      "Queues a dead, cancelled or waiting job to run now with a fresh set of attempts. Running and succeeded jobs are refused (ConflictError).",
    args: { id: t.arg.id({ required: true, description: "The job's id." }) },
    resolve: (_root, args, context) => context.services.jobs.retry(jobId(args.id)),
  }),
  cancelJob: t.field({
    type: CancelJobResult,
    authScopes: { admin: true },
    description:
      "Cancels a queued, dead or running job. A running job's worker loses its lease: its handler is aborted and its further writes are refused. Safe to repeat; succeeded jobs are refused (ConflictError).",
    args: { id: t.arg.id({ required: true, description: "The job's id." }) },
    resolve: (_root, args, context) => context.services.jobs.cancel(jobId(args.id)),
  }),
}));
