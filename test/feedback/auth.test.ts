import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Scope, systemActor } from "../../src/auth/actor.js";
import { type ApiKeyService, createApiKeyService } from "../../src/auth/api-keys.js";
import { BootstrapError, ensureBootstrapKey } from "../../src/auth/bootstrap.js";
import { systemClock } from "../../src/clock.js";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import type { ApiKeyDoc } from "../../src/store/documents.js";
import { indexDeclarations } from "../../src/store/schema.js";
import { type GraphQLResponse, recordInteraction, useTestApp } from "../support/app.js";
import { uniqueDbName, useTestDatabase } from "../support/mongo.js";

const testApp = useTestApp();

/** Raw HTTP, for status codes and headers `gql` does not show. */
async function post(
  query: string,
  headers: Record<string, string>,
  variables?: Record<string, unknown>,
): Promise<{ status: number; headers: Headers; body: GraphQLResponse }> {
  const response = await testApp.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse,
  };
}

/** How many documents each collection holds, plus the counts a refused write could change. */
async function snapshot() {
  const c = testApp.store.collections;
  return {
    interactions: await c.interactions.countDocuments(),
    feedback: await c.feedback.countDocuments(),
    feedbackKeys: await c.feedbackKeys.countDocuments(),
    conflicts: await c.conflicts.countDocuments(),
    openConflicts: await c.conflicts.countDocuments({ status: "open" }),
    apiKeys: await c.apiKeys.countDocuments(),
    activeApiKeys: await c.apiKeys.countDocuments({ revokedAt: { $exists: false } }),
    erasures: await c.erasures.countDocuments(),
  };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

type Label = "anonymous" | Scope;

interface Operation {
  readonly name: string;
  readonly type: "mutation" | "query";
  /** How a refusal shows: typed ForbiddenError results on mutations, FORBIDDEN errors on queries. */
  readonly refusedAs?: Outcome;
  /** The scopes that may run it; every other credential is refused. */
  readonly allowed: readonly Scope[];
  readonly document: string;
  /** Fresh variables per call, created before the "nothing changed" snapshot. */
  readonly variables?: () => Promise<Record<string, unknown>>;
  /** __typename of a successful mutation result. */
  readonly success?: string;
}

const fixtures = {
  interactionA: "",
  interactionB: "",
  feedbackId: "",
  conflictId: "",
  counter: 0,
};
const credentials: Record<Label, string | null> = {
  anonymous: null,
  ingest: "",
  read: "",
  admin: "",
};

beforeAll(async () => {
  credentials.ingest = await testApp.key(["ingest"]);
  credentials.read = await testApp.key(["read"]);
  credentials.admin = await testApp.key(["admin"]);
  fixtures.interactionA = (await recordInteraction(testApp, { userId: "auth-user-a" })).id;
  fixtures.interactionB = (await recordInteraction(testApp, { userId: "auth-user-b" })).id;
  // Two raters disagree on A: a conflict to resolve.
  const binary = /* GraphQL */ `
    mutation ($input: BinaryFeedbackInput!) {
      submitBinaryFeedback(input: $input) {
        __typename
        ... on SubmitFeedbackPayload { feedback { id } conflict { id } }
      }
    }
  `;
  const up = await testApp.gql(binary, {
    input: { interactionId: fixtures.interactionA, positive: true, userId: "auth-rater-1" },
  });
  const down = await testApp.gql(binary, {
    input: { interactionId: fixtures.interactionA, positive: false, userId: "auth-rater-2" },
  });
  fixtures.feedbackId = up.data?.submitBinaryFeedback.feedback.id;
  fixtures.conflictId = down.data?.submitBinaryFeedback.conflict?.id;
  if (!fixtures.feedbackId || !fixtures.conflictId) {
    throw new Error(`fixtures failed: ${JSON.stringify({ up, down })}`);
  }
});

const mutation = (name: string, args: string, params = "") => /* GraphQL */ `
  mutation Op${params ? `(${params})` : ""} {
    ${name}(${args}) {
      __typename
      ... on Error { code message }
    }
  }
`;

const submit = (
  name: string,
  inputType: string,
  input: () => Record<string, unknown>,
): Operation => ({
  name,
  type: "mutation",
  allowed: ["ingest"],
  document: mutation(name, "input: $input", `$input: ${inputType}!`),
  variables: async () => ({ input: input() }),
  success: "SubmitFeedbackPayload",
});

const query = (name: string, document: string, variables?: () => Record<string, unknown>) =>
  ({
    name,
    type: "query",
    allowed: ["read"],
    document,
    ...(variables ? { variables: async () => variables() } : {}),
  }) satisfies Operation;

const operations: Operation[] = [
  // ingest
  {
    name: "recordInteraction",
    type: "mutation",
    allowed: ["ingest"],
    document: mutation("recordInteraction", "input: $input", "$input: RecordInteractionInput!"),
    variables: async () => ({
      input: { query: "Q?", response: "A.", model: { id: "support-bot", version: "v1" } },
    }),
    success: "RecordInteractionPayload",
  },
  {
    name: "recordInteractions",
    type: "mutation",
    allowed: ["ingest"],
    document: mutation(
      "recordInteractions",
      "inputs: $inputs",
      "$inputs: [RecordInteractionInput!]!",
    ),
    variables: async () => ({
      inputs: [{ query: "Q?", response: "A.", model: { id: "support-bot", version: "v1" } }],
    }),
    success: "RecordInteractionsPayload",
  },
  {
    name: "createFeedbackToken",
    type: "mutation",
    allowed: ["ingest"],
    document: mutation("createFeedbackToken", "interactionId: $id", "$id: ID!"),
    variables: async () => ({ id: fixtures.interactionB }),
    success: "FeedbackToken",
  },
  submit("submitBinaryFeedback", "BinaryFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    positive: true,
  })),
  submit("submitRating", "RatingFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    score: 4,
  })),
  submit("submitCorrection", "CorrectionFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    correctedResponse: "A better answer.",
  })),
  submit("submitComparison", "ComparisonFeedbackInput", () => ({
    a: { interactionId: fixtures.interactionB },
    b: { text: "Another answer." },
    preferred: "A",
  })),
  submit("submitComment", "CommentFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    text: "Clear enough.",
  })),
  submit("submitImplicitSignal", "ImplicitFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    signal: "COPY",
  })),
  submit("submitFlag", "FlagFeedbackInput", () => ({
    interactionId: fixtures.interactionB,
    category: "ACCURACY",
    reason: "Outdated.",
  })),
  // read
  query("interaction", "query ($id: ID!) { interaction(id: $id) { id } }", () => ({
    id: fixtures.interactionA,
  })),
  query("interactions", "{ interactions(first: 5) { edges { node { id } } } }"),
  query("feedback", "{ feedback(first: 5) { edges { node { id } } } }"),
  query("feedbackEntry", "query ($id: ID!) { feedbackEntry(id: $id) { id } }", () => ({
    id: fixtures.feedbackId,
  })),
  query("conflict", "query ($id: ID!) { conflict(id: $id) { id } }", () => ({
    id: fixtures.conflictId,
  })),
  query("conflicts", "{ conflicts(first: 5) { edges { node { id } } } }"),
  query("feedbackStats", "{ feedbackStats { overall { feedbackCount positiveRate } } }"),
  query("feedbackTimeSeries", "{ feedbackTimeSeries(interval: DAY) { start feedbackCount } }"),
  query(
    "compareModelVersions",
    '{ compareModelVersions(modelId: "support-bot", baselineVersion: "v1", candidateVersion: "v2") { significant } }',
  ),
  query("node", "query ($id: ID!) { node(id: $id) { id } }", () => ({
    id: fixtures.interactionA,
  })),
  query("nodes", "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", () => ({
    ids: [fixtures.interactionA, fixtures.feedbackId],
  })),
  { ...query("feedbackKeys", "{ feedbackKeys { key } }"), allowed: ["read", "ingest"] },
  // admin
  {
    name: "createApiKey",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("createApiKey", 'name: "made by a test", scopes: [READ]', ""),
    success: "CreatedApiKey",
  },
  {
    name: "revokeApiKey",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("revokeApiKey", "id: $id", "$id: String!"),
    variables: async () => {
      const { apiKey } = await testApp.services.apiKeys.create(
        { name: "to revoke", scopes: ["read"] },
        systemActor("test"),
      );
      return { id: apiKey._id.toHexString() };
    },
    success: "ApiKey",
  },
  { ...query("apiKeys", "{ apiKeys { id name } }"), allowed: ["admin"] },
  {
    name: "defineFeedbackKey",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("defineFeedbackKey", "input: $input", "$input: FeedbackKeyInput!"),
    variables: async () => ({ input: { key: `defined-${++fixtures.counter}`, kind: "BINARY" } }),
    success: "FeedbackKeyConfig",
  },
  {
    name: "deleteFeedbackKey",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("deleteFeedbackKey", "key: $key", "$key: String!"),
    variables: async () => {
      const key = `deletable-${++fixtures.counter}`;
      await testApp.services.keys.define({ key, kind: "binary" });
      return { key };
    },
    success: "FeedbackKeyConfig",
  },
  {
    name: "resolveConflict",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("resolveConflict", "id: $id, decision: DISMISS", "$id: ID!"),
    variables: async () => ({ id: fixtures.conflictId }),
    success: "Conflict",
  },
  {
    name: "eraseUser",
    type: "mutation",
    allowed: ["admin"],
    document: mutation("eraseUser", "userId: $userId", "$userId: String!"),
    variables: async () => {
      const userId = `erasable-${++fixtures.counter}`;
      await recordInteraction(testApp, { userId });
      return { userId };
    },
    success: "ErasureReport",
  },
];

type Outcome = "allowed" | "ForbiddenError" | "FORBIDDEN error" | `unexpected: ${string}`;

function outcomeOf(operation: Operation, result: GraphQLResponse): Outcome {
  const error = result.errors?.[0];
  if (operation.type === "query") {
    if (error?.extensions?.code === "FORBIDDEN" && error.path?.[0] === operation.name) {
      return "FORBIDDEN error";
    }
    if (!result.errors && result.data?.[operation.name] != null) return "allowed";
    return `unexpected: ${JSON.stringify(result)}`;
  }
  const payload = result.data?.[operation.name] as unknown;
  const item = (Array.isArray(payload) ? payload[0] : payload) as { __typename?: string } | null;
  if (item?.__typename === "ForbiddenError") return "ForbiddenError";
  if (item?.__typename === operation.success && !result.errors) return "allowed";
  if (error?.extensions?.code === "FORBIDDEN") return "FORBIDDEN error";
  return `unexpected: ${JSON.stringify(result)}`;
}

describe("each scope allows exactly its operations", () => {
  const labels: Label[] = ["anonymous", "ingest", "read", "admin"];

  it.each(operations)("$name ($type) is allowed only for $allowed", async (operation) => {
    const refused: Outcome =
      operation.refusedAs ?? (operation.type === "query" ? "FORBIDDEN error" : "ForbiddenError");
    const expected = Object.fromEntries(
      labels.map((label) => [
        label,
        label !== "anonymous" && operation.allowed.includes(label) ? "allowed" : refused,
      ]),
    );
    // Refused credentials first, so their "nothing changed" check sees the untouched state.
    const ordered = [...labels].sort(
      (a, b) => Number(expected[a] === "allowed") - Number(expected[b] === "allowed"),
    );
    const outcomes: Record<string, Outcome> = {};
    const changes: Record<string, unknown> = {};
    for (const label of ordered) {
      const variables = (await operation.variables?.()) ?? {};
      const before = await snapshot();
      const result = await testApp.gql(operation.document, variables, credentials[label]);
      outcomes[label] = outcomeOf(operation, result);
      if (expected[label] !== "allowed") {
        const after = await snapshot();
        if (JSON.stringify(after) !== JSON.stringify(before)) changes[label] = { before, after };
      }
    }
    expect(outcomes).toEqual(expected);
    expect(changes).toEqual({});
  });

  it("tells anonymous callers to send an API key and key holders that their key lacks the scope", async () => {
    const document = mutation("createApiKey", 'name: "x", scopes: [READ]', "");
    const anonymous = await testApp.gql(document, {}, null);
    expect(anonymous.data?.createApiKey).toMatchObject({
      __typename: "ForbiddenError",
      code: "FORBIDDEN",
      message: expect.stringContaining("needs an API key"),
    });
    const reader = await testApp.gql(document, {}, credentials.read);
    expect(reader.data?.createApiKey).toMatchObject({
      __typename: "ForbiddenError",
      message: expect.stringContaining("not allowed for this credential"),
    });
  });

  it("lets anonymous callers see only the viewer and server info", async () => {
    const result = await testApp.gql("{ viewer { kind } serverInfo { version } }", {}, null);
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer).toEqual({ kind: "anonymous" });
  });
});

describe("credentials", () => {
  const viewerQuery = "{ viewer { kind keyName scopes interactionId } }";

  it("viewer reports the principal of the request", async () => {
    expect((await testApp.gql(viewerQuery, {}, null)).data?.viewer).toEqual({
      kind: "anonymous",
      keyName: null,
      scopes: [],
      interactionId: null,
    });
    expect((await testApp.gql(viewerQuery, {}, credentials.ingest)).data?.viewer).toEqual({
      kind: "apiKey",
      keyName: "test ingest",
      scopes: ["INGEST"],
      interactionId: null,
    });
    const admin = (await testApp.gql(viewerQuery)).data?.viewer;
    expect(admin).toMatchObject({ kind: "apiKey", keyName: "test ingest+read+admin" });
    expect([...admin.scopes].sort()).toEqual(["ADMIN", "INGEST", "READ"]);
  });

  it("accepts the key in an X-Api-Key header", async () => {
    const read = await post(
      `${viewerQuery.slice(0, -1)} interactions(first: 1) { edges { node { id } } } }`,
      { "x-api-key": credentials.read ?? "" },
    );
    expect(read.status).toBe(200);
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data?.viewer).toMatchObject({ kind: "apiKey", scopes: ["READ"] });

    const before = await testApp.store.collections.interactions.countDocuments();
    const write = await post(
      "mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) { __typename } }",
      { "x-api-key": credentials.ingest ?? "" },
      { input: { query: "Q?", response: "A.", model: { id: "m", version: "1" } } },
    );
    expect(write.body.data?.recordInteraction).toEqual({ __typename: "RecordInteractionPayload" });
    expect(await testApp.store.collections.interactions.countDocuments()).toBe(before + 1);

    const unknown = await post(viewerQuery, { "x-api-key": "lg_unknown-key-unknown-key" });
    expect(unknown.status).toBe(401);
  });

  it("createApiKey shows the secret once, and apiKeys never returns it", async () => {
    const created = await testApp.gql(
      `mutation {
        createApiKey(name: "web-frontend", scopes: [INGEST, READ, INGEST]) {
          __typename
          ... on CreatedApiKey { secret apiKey { id name prefix scopes createdBy revokedAt } }
        }
      }`,
    );
    const payload = created.data?.createApiKey;
    expect(payload.__typename).toBe("CreatedApiKey");
    const secret: string = payload.secret;
    expect(secret).toMatch(/^lg_[A-Za-z0-9_-]{32,}$/);
    expect(payload.apiKey).toMatchObject({ name: "web-frontend", revokedAt: null });
    expect([...payload.apiKey.scopes].sort()).toEqual(["INGEST", "READ"]);
    expect(secret.startsWith(payload.apiKey.prefix)).toBe(true);
    expect(payload.apiKey.prefix.length).toBeLessThan(secret.length / 2);

    // The new key works with exactly its scopes.
    const viewer = await testApp.gql(viewerQuery, {}, secret);
    expect(viewer.data?.viewer).toMatchObject({ kind: "apiKey", keyName: "web-frontend" });
    expect([...(viewer.data?.viewer.scopes ?? [])].sort()).toEqual(["INGEST", "READ"]);

    const listed = await testApp.gql(
      "{ apiKeys { id name prefix scopes createdAt createdBy lastUsedAt revokedAt } }",
    );
    expect(listed.errors).toBeUndefined();
    expect(listed.data?.apiKeys).toContainEqual(
      expect.objectContaining({ id: payload.apiKey.id, name: "web-frontend" }),
    );
    const listing = JSON.stringify(listed);
    for (const key of [secret, testApp.adminKey, credentials.ingest, credentials.read]) {
      expect(listing).not.toContain(key);
      expect(listing).not.toContain(sha256(key ?? ""));
    }
    // Nor can a client ask for it: ApiKey has no field that carries the key or its hash.
    const type = await testApp.gql('{ __type(name: "ApiKey") { fields { name } } }');
    const fields = type.data?.__type.fields.map((field: { name: string }) => field.name);
    expect(fields).not.toContain("secret");
    expect(fields).not.toContain("hash");
    expect(fields).not.toContain("key");
  });

  it("stores keys only as SHA-256 hashes", async () => {
    const { secret } = await testApp.services.apiKeys.create(
      { name: "hashed", scopes: ["read"] },
      systemActor("test"),
    );
    const docs = await testApp.store.collections.apiKeys.find().toArray();
    const stored = JSON.stringify(docs);
    const secrets = [secret, testApp.adminKey, credentials.ingest, credentials.read];
    for (const key of secrets) {
      expect(stored).not.toContain(key);
      // Not even the random part after the visible prefix.
      expect(stored).not.toContain(key?.slice(12));
    }
    const doc = docs.find((item) => item.name === "hashed");
    expect(doc?.hash).toBe(sha256(secret));
    expect(doc?.prefix).toBe(secret.slice(0, 9));
  });

  it("refuses a revoked key with 401", async () => {
    const secret = await testApp.key(["read"]);
    expect((await post(viewerQuery, { authorization: `Bearer ${secret}` })).status).toBe(200);
    const doc = await testApp.store.collections.apiKeys.findOne({ hash: sha256(secret) });
    const revoked = await testApp.gql(
      `mutation ($id: String!) {
        revokeApiKey(id: $id) { __typename ... on ApiKey { id revokedAt } }
      }`,
      { id: doc?._id.toHexString() },
    );
    expect(revoked.data?.revokeApiKey).toMatchObject({
      __typename: "ApiKey",
      revokedAt: expect.any(String),
    });
    const refused = await post(viewerQuery, { authorization: `Bearer ${secret}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe("Bearer");
    expect(refused.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(refused.body.data ?? null).toBeNull();
    // Also through X-Api-Key.
    expect((await post(viewerQuery, { "x-api-key": secret })).status).toBe(401);
  });

  it("answers revokeApiKey for an unknown or malformed id with NotFoundError", async () => {
    const before = await snapshot();
    for (const id of ["0123456789abcdef01234567", "not-an-id"]) {
      const result = await testApp.gql(
        "mutation ($id: String!) { revokeApiKey(id: $id) { __typename ... on Error { code } } }",
        { id },
      );
      expect(result.data?.revokeApiKey).toEqual({ __typename: "NotFoundError", code: "NOT_FOUND" });
    }
    expect(await snapshot()).toEqual(before);
  });

  it("rejects createApiKey with an empty name or no scopes and stores nothing", async () => {
    const before = await snapshot();
    for (const args of ['name: "  ", scopes: [READ]', 'name: "ok", scopes: []']) {
      const result = await testApp.gql(
        `mutation { createApiKey(${args}) { __typename ... on ValidationError { fields { path } } } }`,
      );
      expect(result.data?.createApiKey.__typename).toBe("ValidationError");
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ["a Basic credential", "Basic dXNlcjpwYXNzd29yZA=="],
    ["a bare key without the Bearer scheme", "lg_abcdefabcdefabcdef"],
    ["Bearer without a credential", "Bearer"],
    ["Bearer with two words", "Bearer lg_abc lg_def"],
    ["another scheme", "Token lg_abcdefabcdefabcdef"],
    ["an unknown key", "Bearer lg_not-a-key-not-a-key"],
  ])("refuses an Authorization header with %s with 401", async (_name, header) => {
    const before = await snapshot();
    const response = await post(
      "mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) { __typename } }",
      { authorization: header },
      { input: { query: "Q?", response: "A.", model: { id: "m", version: "1" } } },
    );
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await snapshot()).toEqual(before);
  });

  it("does not fall back to X-Api-Key when the Authorization header is malformed", async () => {
    const response = await post(viewerQuery, {
      authorization: "Basic dXNlcjpwYXNzd29yZA==",
      "x-api-key": testApp.adminKey,
    });
    expect(response.status).toBe(401);
  });
});

describe("bootstrap admin key (ensureBootstrapKey)", () => {
  const database = useTestDatabase();
  const databases: Db[] = [];
  const directories: string[] = [];

  afterAll(async () => {
    for (const db of databases) await db.dropDatabase();
    for (const directory of directories) await rm(directory, { recursive: true, force: true });
  });

  /** A real API key service on an empty database, a data dir that does not exist yet, a logger. */
  async function fresh() {
    const db = database.client.db(uniqueDbName("boot"));
    databases.push(db);
    const collection = db.collection<ApiKeyDoc>("apiKeys");
    await collection.createIndexes([...indexDeclarations.apiKeys]);
    const apiKeys: ApiKeyService = createApiKeyService({
      collections: { apiKeys: collection },
      clock: systemClock,
    });
    const root = await mkdtemp(join(tmpdir(), "loopgate-boot-"));
    directories.push(root);
    const dataDir = join(root, "data", "nested");
    const logs: string[] = [];
    const logger: Logger = createLogger({
      level: "info",
      destination: { write: (line: string) => logs.push(line) },
    });
    const terminal: string[] = [];
    const run = (options: { production: boolean; configuredKey?: string }) =>
      ensureBootstrapKey({
        apiKeys,
        logger,
        dataDir,
        production: options.production,
        configuredKey: options.configuredKey,
        terminal: { write: (text: string) => terminal.push(text) },
      });
    return {
      collection,
      apiKeys,
      dataDir,
      keyFile: join(dataDir, "admin-key"),
      logs,
      terminal,
      run,
    };
  }

  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  it("outside production, creates an admin key when none exist, shows it once on the terminal (never in the log) and saves it with mode 0600", async () => {
    const boot = await fresh();
    const result = await boot.run({ production: false });
    expect(result.file).toBe(boot.keyFile);

    const secret = (await readFile(boot.keyFile, "utf8")).trim();
    expect(secret).toMatch(/^lg_/);
    expect((await stat(boot.keyFile)).mode & 0o777).toBe(0o600);

    const key = await boot.apiKeys.authenticate(secret);
    expect([...(key?.scopes ?? [])].sort()).toEqual(["admin", "ingest", "read"]);
    expect(key?.createdBy).toBe("bootstrap");
    expect(await boot.collection.countDocuments()).toBe(1);
    expect(JSON.stringify(await boot.collection.find().toArray())).not.toContain(secret);
    expect(boot.logs.filter((line) => line.includes(secret))).toHaveLength(0);
    expect(boot.logs.filter((line) => line.includes(boot.keyFile))).toHaveLength(1);
    expect(boot.terminal.filter((text) => text.includes(secret))).toHaveLength(1);
  });

  it("outside production, creates nothing when a key already exists", async () => {
    const boot = await fresh();
    await boot.apiKeys.create({ name: "existing", scopes: ["read"] }, systemActor("test"));
    expect(await boot.run({ production: false })).toEqual({});
    expect(await boot.collection.countDocuments()).toBe(1);
    expect(await exists(boot.keyFile)).toBe(false);
    expect(boot.logs.join("")).not.toContain("lg_");
  });

  it("outside production, a second start neither creates another key nor rewrites the file", async () => {
    const boot = await fresh();
    await boot.run({ production: false });
    const saved = await readFile(boot.keyFile, "utf8");
    expect(await boot.run({ production: false })).toEqual({});
    expect(await boot.collection.countDocuments()).toBe(1);
    expect(await readFile(boot.keyFile, "utf8")).toBe(saved);
  });

  it("outside production, a leftover key file from an earlier database is replaced and made 0600", async () => {
    const boot = await fresh();
    await mkdir(boot.dataDir, { recursive: true });
    await writeFile(boot.keyFile, "lg_stale-key-from-a-dropped-database\n", { mode: 0o644 });
    await boot.run({ production: false });
    const secret = (await readFile(boot.keyFile, "utf8")).trim();
    expect(await boot.apiKeys.authenticate(secret)).not.toBeNull();
    expect((await stat(boot.keyFile)).mode & 0o777).toBe(0o600);
  });

  it("in production with no keys, refuses to start with BootstrapError and creates nothing", async () => {
    const boot = await fresh();
    await expect(boot.run({ production: true })).rejects.toBeInstanceOf(BootstrapError);
    expect(await boot.collection.countDocuments()).toBe(0);
    expect(await exists(boot.keyFile)).toBe(false);
  });

  it("in production, revoked keys count as no keys", async () => {
    const boot = await fresh();
    const { apiKey } = await boot.apiKeys.create(
      { name: "old", scopes: ["admin"] },
      systemActor("test"),
    );
    await boot.apiKeys.revoke(apiKey._id, systemActor("test"));
    await expect(boot.run({ production: true })).rejects.toBeInstanceOf(BootstrapError);
    expect(await boot.collection.countDocuments()).toBe(1);
  });

  it("in production with an active key, starts without creating anything", async () => {
    const boot = await fresh();
    await boot.apiKeys.create({ name: "existing", scopes: ["admin"] }, systemActor("test"));
    expect(await boot.run({ production: true })).toEqual({});
    expect(await boot.collection.countDocuments()).toBe(1);
    expect(await exists(boot.keyFile)).toBe(false);
  });

  it("installs a configured key (LOOPGATE_BOOTSTRAP_ADMIN_KEY) hashed, with admin scopes, exactly once", async () => {
    const boot = await fresh();
    const configuredKey = `operator-${randomBytes(24).toString("hex")}`;
    for (let start = 0; start < 3; start++) {
      expect(await boot.run({ production: true, configuredKey })).toEqual({});
    }
    expect(await boot.collection.countDocuments()).toBe(1);
    const key = await boot.apiKeys.authenticate(configuredKey);
    expect(key).toMatchObject({ name: "bootstrap admin", createdBy: "bootstrap" });
    expect([...(key?.scopes ?? [])].sort()).toEqual(["admin", "ingest", "read"]);
    expect(JSON.stringify(await boot.collection.find().toArray())).not.toContain(configuredKey);
    expect(boot.logs.join("")).not.toContain(configuredKey);
    expect(await exists(boot.keyFile)).toBe(false);
  });

  it("installs a configured key alongside existing keys, also outside production", async () => {
    const boot = await fresh();
    await boot.apiKeys.create({ name: "existing", scopes: ["read"] }, systemActor("test"));
    const configuredKey = `operator-${randomBytes(24).toString("hex")}`;
    await boot.run({ production: false, configuredKey });
    await boot.run({ production: false, configuredKey });
    expect(await boot.collection.countDocuments()).toBe(2);
    expect(await boot.apiKeys.authenticate(configuredKey)).not.toBeNull();
    expect(await exists(boot.keyFile)).toBe(false);
  });
});
