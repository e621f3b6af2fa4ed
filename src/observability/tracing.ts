import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import {
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  getOperationAST,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { MongoClient } from "mongodb";

/**
 * Spans through `@opentelemetry/api` only. Without a registered SDK (see telemetry.ts) the API
 * hands out no-op tracers, so all of this costs next to nothing while tracing is off.
 */
export const TRACER_NAME = "loopgate";
export const tracer = (): Tracer => trace.getTracer(TRACER_NAME);

/** Runs `fn` inside a new active span; errors are recorded and rethrown; the span always ends. */
export async function traceInline<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

export function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** Trace and span id of the active span, for log lines (empty while no span is recording). */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  // Sampled-out and no-op spans carry no id worth logging.
  if (!(traceFlags & 1)) return {};
  return { trace_id: traceId, span_id: spanId };
}

const wrapped = Symbol("loopgate.traced");

/**
 * A span per root field (Query, Mutation, Subscription subscribe): the services and database
 * commands a root resolver calls become its children. Object fields below the root are not traced:
 * they are many and cheap, and loaders batch their database work.
 */
export function traceRootResolvers(schema: GraphQLSchema): void {
  const subscriptionType = schema.getSubscriptionType();
  for (const type of [schema.getQueryType(), schema.getMutationType(), subscriptionType]) {
    // Root types are object types by definition (no instanceof check: graphql's ESM and CJS
    // builds may both be loaded, and their classes differ).
    if (!type) continue;
    for (const field of Object.values(type.getFields())) {
      const key = type === subscriptionType ? "subscribe" : "resolve";
      const original = field[key] as
        | (GraphQLFieldResolver<unknown, unknown> & { [wrapped]?: true })
        | undefined;
      if (!original || original[wrapped]) continue;
      const name = `graphql.resolve ${type.name}.${field.name}`;
      const attributes = {
        "graphql.field.name": field.name,
        "graphql.field.parent_type": type.name,
      };
      const traced: GraphQLFieldResolver<unknown, unknown> & { [wrapped]?: true } = (
        source,
        args,
        ctx,
        info,
      ) =>
        tracer().startActiveSpan(name, { attributes }, (span) => {
          let result: unknown;
          try {
            result = original(source, args, ctx, info);
          } catch (error) {
            failed(span, error);
            span.end();
            throw error;
          }
          if (result instanceof Promise) {
            return result.then(
              (value) => {
                span.end();
                return value;
              },
              (error: unknown) => {
                failed(span, error);
                span.end();
                throw error;
              },
            );
          }
          span.end();
          return result;
        });
      traced[wrapped] = true;
      field[key] = traced;
    }
  }
}

function operationOf(document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName ?? undefined);
  return { type: operation?.operation ?? "unknown", name: operation?.name?.value };
}

/**
 * A span per GraphQL operation (execute or subscribe), active while it runs, so root-field spans
 * and database spans nest under it. Named `<type> <name>` as the semantic conventions ask; the
 * operation name is the client's, the span's attribute only (never a metric label).
 */
export function tracingPlugin(schema: GraphQLSchema): Plugin {
  // Wrapped once here: the schema is the app's own, built for it and never swapped.
  traceRootResolvers(schema);
  const start = (args: { document: DocumentNode; operationName?: string | null }) => {
    const operation = operationOf(args.document, args.operationName);
    return tracer().startSpan(
      operation.name ? `${operation.type} ${operation.name}` : operation.type,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "graphql.operation.type": operation.type,
          ...(operation.name ? { "graphql.operation.name": operation.name } : {}),
        },
      },
    );
  };
  const finish = (span: Span, result: unknown) => {
    const errors = (result as { errors?: readonly unknown[] } | undefined)?.errors;
    if (errors && errors.length > 0) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `${errors.length} GraphQL error(s)` });
      span.setAttribute("graphql.errors", errors.length);
    }
    span.end();
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const span = start(args);
      const active = trace.setSpan(context.active(), span);
      setExecuteFn((executeArgs) => context.with(active, () => executeFn(executeArgs)));
      return {
        onExecuteDone({ result }) {
          // Incremental delivery (defer/stream) ends the span at the first payload.
          finish(span, Symbol.asyncIterator in Object(result) ? undefined : result);
        },
      };
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const span = start(args);
      const active = trace.setSpan(context.active(), span);
      setSubscribeFn((subscribeArgs) => context.with(active, () => subscribeFn(subscribeArgs)));
      return {
        onSubscribeResult() {
          // The span covers setting the subscription up, not its lifetime (which may be hours).
          span.end();
        },
        onSubscribeError({ error }) {
          failed(span, error);
        },
      };
    },
  };
}

/**
 * A client span per MongoDB command, from the driver's command monitoring (the client needs
 * `monitorCommands: true`). The driver emits `commandStarted` in the caller's async context, so
 * the span is a child of whatever span was active when the command was sent.
 */
export function traceMongoCommands(client: MongoClient): () => void {
  const open = new Map<string, Span>();
  const key = (event: { requestId: number; connectionId?: string | number }) =>
    `${event.connectionId ?? ""}:${event.requestId}`;
  const emitter = client as unknown as NodeJS.EventEmitter;
  const started = (event: {
    requestId: number;
    connectionId?: string | number;
    commandName: string;
    databaseName: string;
    command: Record<string, unknown>;
    address: string;
  }) => {
    // Heartbeats and handshakes are not the application's work.
    if (event.commandName === "hello" || event.commandName === "isMaster") return;
    if (!trace.getActiveSpan()) return;
    const collection = event.command[event.commandName];
    const [host, port] = event.address.split(":");
    const span = tracer().startSpan(
      `${event.commandName}${typeof collection === "string" ? ` ${collection}` : ""}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "db.system.name": "mongodb",
          "db.operation.name": event.commandName,
          "db.namespace": event.databaseName,
          ...(typeof collection === "string" ? { "db.collection.name": collection } : {}),
          ...(host ? { "server.address": host } : {}),
          ...(port ? { "server.port": Number(port) } : {}),
        },
      },
    );
    open.set(key(event), span);
  };
  const succeeded = (event: { requestId: number; connectionId?: string | number }) => {
    const span = open.get(key(event));
    if (!span) return;
    open.delete(key(event));
    span.end();
  };
  const failedCommand = (event: {
    requestId: number;
    connectionId?: string | number;
    failure: Error;
  }) => {
    const span = open.get(key(event));
    if (!span) return;
    open.delete(key(event));
    failed(span, event.failure);
    span.end();
  };
  emitter.on("commandStarted", started);
  emitter.on("commandSucceeded", succeeded);
  emitter.on("commandFailed", failedCommand);
  return () => {
    emitter.off("commandStarted", started);
    emitter.off("commandSucceeded", succeeded);
    emitter.off("commandFailed", failedCommand);
  };
}
