import { MongoBulkWriteError, ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import { ConflictError, DomainError, ValidationError } from "../errors.js";
import type { DomainEvents } from "../events.js";
import { emptySummary } from "../feedback/summary.js";
import type { PayloadHasher } from "../privacy/payload-hash.js";
import type { Pseudonymizer } from "../privacy/pseudonym.js";
import type { Redactor } from "../privacy/redaction.js";
import type { InteractionDoc, RedactionCounts } from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { Collections } from "../store/mongo.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";
import { parseInput } from "../validation.js";
import type { InteractionCache } from "./cache.js";
import { type InteractionFilter, interactionQuery } from "./filter.js";
import { type RecordInteractionInput, recordInteractionInput } from "./inputs.js";

export interface RecordedInteraction {
  readonly interaction: InteractionDoc;
  /** True when the idempotency key was seen before and the stored interaction is returned. */
  readonly duplicate: boolean;
}

export type BatchItemResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DomainError };

export interface InteractionService {
  record(input: RecordInteractionInput): Promise<RecordedInteraction>;
  /** Each item is validated and stored on its own; one bad item does not stop the others. */
  recordMany(
    inputs: readonly RecordInteractionInput[],
  ): Promise<BatchItemResult<RecordedInteraction>[]>;
  list(filter: InteractionFilter, page: PageArgs): Promise<Page<InteractionDoc>>;
}

export const MAX_BATCH = 500;

export function createInteractionService(deps: {
  collections: Pick<Collections, "interactions">;
  clock: Clock;
  redactor: Redactor;
  pseudonymizer: Pseudonymizer;
  /** Keyed fingerprint of inputs for idempotency checks. */
  fingerprint: PayloadHasher;
  events: DomainEvents;
  /** Learns each recorded interaction, so feedback on it need not read it back. */
  interactionCache?: InteractionCache;
}): InteractionService {
  const { collections, clock, redactor, pseudonymizer, events } = deps;

  /** `path` prefixes the fields an error names: `input`, or `inputs.<index>` in a batch. */
  const build = (raw: RecordInteractionInput, path = "input"): InteractionDoc => {
    const input = parseInput(recordInteractionInput, raw, path);
    const redactions: RedactionCounts = {};
    const messages = input.messages?.map((message) => ({
      role: message.role,
      content: redactor.redact(message.content, redactions),
      ...(message.name ? { name: redactor.redact(message.name, redactions) } : {}),
    }));
    const lastUserMessage = messages?.filter((message) => message.role === "user").at(-1)?.content;
    const now = clock.now();
    const doc: InteractionDoc = {
      _id: new ObjectId(),
      query:
        input.query !== undefined
          ? redactor.redact(input.query, redactions)
          : (lastUserMessage ?? ""),
      response: redactor.redact(input.response, redactions),
      model: input.model,
      createdAt: input.createdAt ?? now,
      recordedAt: now,
      payloadHash: deps.fingerprint(input),
      feedbackSummary: emptySummary,
      feedbackRevision: 0,
    };
    if (messages) doc.messages = messages;
    if (input.settings) doc.settings = redactor.redactDeep(input.settings, redactions);
    if (input.sessionId) {
      const probe: RedactionCounts = {};
      redactor.redact(input.sessionId, probe);
      doc.sessionId = pseudonymizer.shieldIdentifier(
        input.sessionId,
        Object.keys(probe).length > 0,
      );
    }
    if (input.userId) doc.userId = pseudonymizer.pseudonymize(input.userId);
    if (input.trace) doc.trace = input.trace;
    if (input.latencyMs !== undefined) doc.latencyMs = input.latencyMs;
    if (input.tokens) doc.tokens = input.tokens;
    if (input.metadata) doc.metadata = redactor.redactDeep(input.metadata, redactions);
    if (input.idempotencyKey) doc.idempotencyKey = input.idempotencyKey;
    if (Object.keys(redactions).length > 0) doc.redactions = redactions;
    return doc;
  };

  /** A stored interaction under the same idempotency key, or a conflict when the payload differs. */
  const resolveDuplicate = async (
    doc: InteractionDoc,
    error: unknown,
  ): Promise<RecordedInteraction> => {
    if (!doc.idempotencyKey || !isDuplicateKeyOn(error, "idempotencyKey")) throw error;
    const existing = await collections.interactions.findOne({ idempotencyKey: doc.idempotencyKey });
    if (!existing) throw error;
    if (existing.payloadHash !== doc.payloadHash) {
      throw new ConflictError(
        `idempotency key ${doc.idempotencyKey} was already used for a different interaction`,
      );
    }
    return { interaction: existing, duplicate: true };
  };

  const insertOne = async (doc: InteractionDoc): Promise<RecordedInteraction> => {
    try {
      await collections.interactions.insertOne(doc);
    } catch (error) {
      return resolveDuplicate(doc, error);
    }
    deps.interactionCache?.remember(doc);
    events.emit("interactionRecorded", doc);
    return { interaction: doc, duplicate: false };
  };

  const asItem = async <T>(work: () => Promise<T>): Promise<BatchItemResult<T>> => {
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      if (error instanceof DomainError) return { ok: false, error };
      throw error;
    }
  };

  return {
    record: (input) => insertOne(build(input)),
    async recordMany(inputs) {
      if (inputs.length > MAX_BATCH) {
        throw new ValidationError([
          { path: "inputs", message: `at most ${MAX_BATCH} interactions per batch` },
        ]);
      }
      const built = await Promise.all(
        inputs.map((input, index) => asItem(async () => build(input, `inputs.${index}`))),
      );
      const valid = built.flatMap((item, index) => (item.ok ? [{ index, doc: item.value }] : []));
      // One unordered insertMany: every valid item is stored even when a sibling is a duplicate.
      const failures = new Map<number, unknown>();
      if (valid.length > 0) {
        try {
          await collections.interactions.insertMany(
            valid.map(({ doc }) => doc),
            { ordered: false },
          );
        } catch (error) {
          if (!(error instanceof MongoBulkWriteError)) throw error;
          const writeErrors = Array.isArray(error.writeErrors)
            ? error.writeErrors
            : [error.writeErrors];
          for (const writeError of writeErrors) failures.set(writeError.index, writeError);
          if (failures.size === 0) throw error;
        }
      }
      const results: BatchItemResult<RecordedInteraction>[] = built.map((item) =>
        item.ok ? { ok: true, value: { interaction: item.value, duplicate: false } } : item,
      );
      await Promise.all(
        valid.map(async ({ index, doc }, position) => {
          const failure = failures.get(position);
          if (failure === undefined) {
            deps.interactionCache?.remember(doc);
            events.emit("interactionRecorded", doc);
            return;
          }
          results[index] = await asItem(() => resolveDuplicate(doc, failure));
        }),
      );
      return results;
    },
    list: (filter, page) => paginate(collections.interactions, interactionQuery(filter), page),
  };
}
