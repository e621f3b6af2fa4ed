import { createHash, randomBytes } from "node:crypto";
import { ObjectId } from "mongodb";
import { z } from "zod";
import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import type { ApiKeyDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import { type Actor, actorLabel, allScopes, bootstrapActor, type Scope } from "./actor.js";

export interface CreatedApiKey {
  readonly apiKey: ApiKeyDoc;
  /** The only time the plain key exists: it is shown once and stored as a hash. */
  readonly secret: string;
}

export interface ApiKeyService {
  create(input: { name: string; scopes: readonly Scope[] }, actor: Actor): Promise<CreatedApiKey>;
  /** Installs a key chosen by the operator (LOOPGATE_BOOTSTRAP_ADMIN_KEY); idempotent. */
  install(secret: string, input: { name: string; scopes: readonly Scope[] }): Promise<ApiKeyDoc>;
  list(): Promise<ApiKeyDoc[]>;
  revoke(id: ObjectId, actor: Actor): Promise<ApiKeyDoc>;
  /** The active key matching a presented secret, or null. */
  authenticate(secret: string): Promise<ApiKeyDoc | null>;
  countActive(): Promise<number>;
}

export const API_KEY_PREFIX = "lg_";

const createKeyInput = z.object({
  name: z.string().trim().min(1, "must not be empty").max(100),
  scopes: z
    .array(z.enum(allScopes as [Scope, ...Scope[]]))
    .min(1, "give at least one scope")
    .transform((scopes) => [...new Set(scopes)]),
});

/** Keys are 192 random bits, so one SHA-256 (no salt, no slow hash) is the right strength. */
export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** lastUsedAt is bookkeeping; writing it on every request would double the database load. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function createApiKeyService(deps: {
  collections: Pick<Collections, "apiKeys">;
  clock: Clock;
  /** Told when recording a key's lastUsedAt failed (it is not awaited by the request). */
  bookkeepingFailed?: (error: unknown) => void;
}): ApiKeyService {
  const { collections, clock } = deps;
  const lastTouched = new Map<string, number>();

  const insert = async (secret: string, input: { name: string; scopes: Scope[] }, actor: Actor) => {
    const apiKey: ApiKeyDoc = {
      _id: new ObjectId(),
      name: input.name,
      hash: hashApiKey(secret),
      prefix: secret.slice(0, API_KEY_PREFIX.length + 6),
      scopes: input.scopes,
      createdAt: clock.now(),
      createdBy: actorLabel(actor),
    };
    await collections.apiKeys.insertOne(apiKey);
    return apiKey;
  };

  return {
    async create(raw, actor) {
      const input = parseInput(createKeyInput, raw);
      const secret = `${API_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
      return { apiKey: await insert(secret, input, actor), secret };
    },
    async install(secret, raw) {
      const input = parseInput(createKeyInput, raw);
      const existing = await collections.apiKeys.findOne({ hash: hashApiKey(secret) });
      if (existing) return existing;
      return insert(secret, input, bootstrapActor);
    },
    list: () => collections.apiKeys.find({}, { sort: { createdAt: -1 } }).toArray(),
    async revoke(id, actor) {
      const revoked = await collections.apiKeys.findOneAndUpdate(
        { _id: id },
        { $set: { revokedAt: clock.now(), revokedBy: actorLabel(actor) } },
        { returnDocument: "after" },
      );
      if (!revoked) throw new NotFoundError("ApiKey", id.toHexString());
      return revoked;
    },
    async authenticate(secret) {
      const apiKey = await collections.apiKeys.findOne({ hash: hashApiKey(secret) });
      if (!apiKey || apiKey.revokedAt) return null;
      const now = clock.now().getTime();
      const id = apiKey._id.toHexString();
      if (now - (lastTouched.get(id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
        lastTouched.set(id, now);
        // Bookkeeping, not part of the answer: the request does not wait for it. $max keeps a
        // slower, older write from moving the time back.
        collections.apiKeys
          .updateOne({ _id: apiKey._id }, { $max: { lastUsedAt: new Date(now) } })
          .catch((error: unknown) => deps.bookkeepingFailed?.(error));
      }
      return apiKey;
    },
    countActive: () => collections.apiKeys.countDocuments({ revokedAt: { $exists: false } }),
  };
}
