import {
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildSchema } from "../../src/resolvers/index.js";
import {
  type GraphQLResponse,
  interactionInput,
  recordInteraction,
  storedCounts,
  useTestApp,
} from "../support/app.js";

/**
 * The whole matrix of issue 8 items 1 and 8: every mutation a writer may call × every credential
 * that writes × every field its answer can select. A write's answer shows what the credential
 * sent and what the write did; stored data it did not send (the judged interaction, what was
 * copied from it, other raters' feedback) needs READ. A selection that asks for more is refused
 * before anything runs (nothing written), never answered with `data: null` after a committed write.
 */
const testApp = useTestApp();
const schema: GraphQLSchema = buildSchema();

/** Distinctive strings stored by someone else; none may reach a writer without READ. */
const SECRET = "Zq7Secret";
const secrets: string[] = [];

let ingestKey = "";
let readerKey = "";
let token = "";
let victim = "";
let victim2 = "";

beforeAll(async () => {
  ingestKey = await testApp.key(["ingest"]);
  readerKey = await testApp.key(["ingest", "read"]);
  const recorded = async (n: number) =>
    recordInteraction(testApp, {
      query: `${SECRET}-query-${n}`,
      response: `${SECRET}-response-${n}`,
      messages: [{ role: "user", content: `${SECRET}-message-${n}` }],
      model: { id: `${SECRET}-model-${n}`, version: `${SECRET}-version-${n}` },
      sessionId: `${SECRET}-session-${n}`,
      userId: `victim-user-${n}`,
      metadata: { note: `${SECRET}-metadata-${n}` },
      trace: { provider: "langsmith", runId: `${SECRET}-run-${n}` },
    });
  victim = (await recorded(1)).id;
  victim2 = (await recorded(2)).id;
  // The pseudonyms are stored data too.
  for (const id of [victim, victim2]) {
    const read = await testApp.gql(
      `query($id: ID!) { node(id: $id) { ... on Interaction { userId } } }`,
      {
        id,
      },
    );
    secrets.push(String(read.data?.node?.userId));
  }
  secrets.push(SECRET);
  // Another rater's feedback on the victim: its comment is not the writers' to read either.
  const other = await testApp.gql(
    `mutation($input: CommentFeedbackInput!) { submitComment(input: $input) { __typename } }`,
    { input: { interactionId: victim, text: `${SECRET}-other-rater`, userId: "someone-else" } },
  );
  expect(other.data?.submitComment.__typename).toBe("SubmitFeedbackPayload");
  const issued = await testApp.gql(
    `mutation($id: ID!) { createFeedbackToken(interactionId: $id) { ... on FeedbackToken { token } } }`,
    { id: victim },
    ingestKey,
  );
  token = issued.data?.createFeedbackToken.token as string;
  expect(token).toMatch(/^lgt_/);
});

interface Operation {
  readonly name: string;
  readonly field: string;
  readonly args: string;
  readonly variables: (credential: "ingest" | "token" | "reader") => Record<string, unknown>;
  /** Tokens may call it (on their own interaction). */
  readonly token: boolean;
  /** The field's arguments, when not `(input: $input)`. */
  readonly call?: string;
}

const binary = (input: Record<string, unknown>) => ({ input: { positive: false, ...input } });
/** Each writer submits as the same rater every time, so its answers carry history. */
const rater = (credential: string) =>
  credential === "token" ? {} : { userId: `rater-${credential}` };
const operations: Operation[] = [
  {
    name: "submitBinaryFeedback",
    field: "submitBinaryFeedback",
    args: "$input: BinaryFeedbackInput!",
    variables: (c) => binary({ interactionId: victim, ...rater(c) }),
    token: true,
  },
  {
    name: "submitRating",
    field: "submitRating",
    args: "$input: RatingFeedbackInput!",
    variables: (c) => ({ input: { interactionId: victim, score: 2, ...rater(c) } }),
    token: true,
  },
  {
    name: "submitCorrection",
    field: "submitCorrection",
    args: "$input: CorrectionFeedbackInput!",
    variables: (c) => ({
      input: { interactionId: victim, correctedResponse: "a better answer", ...rater(c) },
    }),
    token: true,
  },
  {
    name: "submitComparison (two recorded sides)",
    field: "submitComparison",
    args: "$input: ComparisonFeedbackInput!",
    variables: (c) => ({
      input: {
        a: { interactionId: victim },
        b: c === "token" ? { text: "an inline answer" } : { interactionId: victim2 },
        preferred: "B",
        ...rater(c),
      },
    }),
    token: true,
  },
  {
    name: "submitComment",
    field: "submitComment",
    args: "$input: CommentFeedbackInput!",
    variables: (c) => ({ input: { interactionId: victim, text: "hm", ...rater(c) } }),
    token: true,
  },
  {
    name: "submitImplicitSignal",
    field: "submitImplicitSignal",
    args: "$input: ImplicitFeedbackInput!",
    variables: (c) => ({ input: { interactionId: victim, signal: "COPY", ...rater(c) } }),
    token: true,
  },
  {
    name: "submitFlag",
    field: "submitFlag",
    args: "$input: FlagFeedbackInput!",
    variables: (c) => ({ input: { interactionId: victim, category: "ACCURACY", ...rater(c) } }),
    token: true,
  },
  {
    name: "createFeedbackToken",
    field: "createFeedbackToken",
    args: "$id: ID!",
    call: "(interactionId: $id)",
    variables: () => ({ id: victim }),
    token: false,
  },
  {
    name: "recordInteraction (with a feedback token)",
    field: "recordInteraction",
    args: "$input: RecordInteractionInput!",
    call: "(input: $input, withFeedbackToken: true)",
    variables: () => ({ input: interactionInput({ userId: "recorder" }) }),
    token: false,
  },
];

/**
 * One selection covering every field reachable from `root`, each type expanded once where a
 * breadth-first walk first meets it (so the document stays shallow), skipping the coordinates in
 * `skip` (and walking on through other paths to what lies behind them). Interface fields are
 * selected on the interface, each implementation adds its own fields in a fragment.
 */
function fullSelection(
  root: GraphQLObjectType,
  skip: ReadonlySet<string>,
): { text: string; included: Set<string> } {
  const included = new Set<string>();
  interface Node {
    readonly fields: Array<{ name: string; child?: Node }>;
    readonly fragments: Array<{ on: string; node: Node }>;
  }
  const expanded = new Set<string>([root.name]);
  const queue: Array<{
    type: GraphQLObjectType | GraphQLInterfaceType;
    node: Node;
    inherited: Set<string>;
  }> = [];
  const rootNode: Node = { fields: [], fragments: [] };
  queue.push({ type: root, node: rootNode, inherited: new Set() });
  while (queue.length > 0) {
    const { type, node, inherited } = queue.shift() as (typeof queue)[number];
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
      if (inherited.has(field.name)) continue;
      if (field.args.some((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined))
        continue;
      if (skip.has(`${type.name}.${field.name}`)) continue;
      included.add(`${type.name}.${field.name}`);
      const named = getNamedType(field.type);
      if (isLeafType(named)) {
        node.fields.push({ name: field.name });
        continue;
      }
      const child: Node = { fields: [{ name: "__typename" }], fragments: [] };
      node.fields.push({ name: field.name, child });
      if (expanded.has(named.name)) continue;
      expanded.add(named.name);
      if (isInterfaceType(named)) {
        queue.push({ type: named, node: child, inherited: new Set() });
        for (const member of schema.getPossibleTypes(named)) {
          if (expanded.has(member.name)) continue;
          expanded.add(member.name);
          const fragment: Node = { fields: [], fragments: [] };
          child.fragments.push({ on: member.name, node: fragment });
          queue.push({
            type: member,
            node: fragment,
            inherited: new Set(Object.keys(named.getFields())),
          });
        }
      } else if (isUnionType(named)) {
        for (const member of named.getTypes()) {
          if (expanded.has(member.name)) continue;
          expanded.add(member.name);
          const fragment: Node = { fields: [], fragments: [] };
          child.fragments.push({ on: member.name, node: fragment });
          queue.push({ type: member, node: fragment, inherited: new Set() });
        }
      } else if (isObjectType(named)) {
        queue.push({ type: named, node: child, inherited: new Set() });
      }
    }
  }
  const print = (node: Node): string =>
    `{ ${[
      ...node.fields.map((field) =>
        field.child ? `${field.name} ${print(field.child)}` : field.name,
      ),
      ...node.fragments
        .filter((fragment) => fragment.node.fields.length > 0)
        .map((fragment) => `... on ${fragment.on} ${print(fragment.node)}`),
    ].join(" ")} }`;
  return { text: print(rootNode), included };
}

function successType(operation: Operation): GraphQLObjectType {
  const field = schema.getMutationType()?.getFields()[operation.field];
  if (!field) throw new Error(`no mutation ${operation.field}`);
  const result = getNamedType(field.type);
  // The success member of the result union; the error members are the same everywhere.
  const success = isUnionType(result)
    ? result.getTypes().find((member) => !member.name.endsWith("Error"))
    : result;
  if (!success || !isObjectType(success)) throw new Error(`no success type for ${operation.field}`);
  return success;
}

function documentFor(operation: Operation, selection: string): string {
  const args = operation.call ?? "(input: $input)";
  return `mutation M(${operation.args}) { ${operation.field}${args} { __typename ... on ${successType(operation).name} ${selection} } }`;
}

type Role = "ingest" | "token" | "reader";
const credentialOf = (role: Role) =>
  role === "token" ? token : role === "ingest" ? ingestKey : readerKey;

async function written(): Promise<number[]> {
  const { feedback, interactions, apiKeys } = testApp.store.collections;
  return Promise.all([
    feedback.countDocuments(),
    interactions.countDocuments(),
    apiKeys.countDocuments(),
  ]);
}

/** Asserts a refusal before execution: FORBIDDEN only, no data, nothing stored; returns the fields named. */
async function expectRefused(
  result: GraphQLResponse,
  before: number[],
  label: string,
): Promise<string[]> {
  expect(result.data, label).toBeUndefined();
  expect(result.errors?.length, label).toBeGreaterThan(0);
  for (const error of result.errors ?? []) expect(error.extensions?.code, label).toBe("FORBIDDEN");
  expect(await written(), label).toEqual(before);
  return (result.errors ?? []).map(
    (error) => /^(\w+\.\w+) /.exec(error.message)?.[1] ?? error.message,
  );
}

function expectNoSecret(result: GraphQLResponse, label: string) {
  const text = JSON.stringify(result);
  for (const secret of secrets) expect(text, label).not.toContain(secret);
}

describe("a write's answer never shows what its credential could not query", () => {
  for (const operation of operations) {
    for (const role of ["ingest", "token"] as const) {
      if (role === "token" && !operation.token) continue;
      it(`${operation.name} with ${role === "ingest" ? "an INGEST key" : "a feedback token"}: every selectable field`, async () => {
        const credential = credentialOf(role);
        const variables = operation.variables(role);
        const everything = fullSelection(successType(operation), new Set()).text;
        // 1. Everything at once: refused before it runs, naming each field it may not read.
        const before = await written();
        const all = await testApp.gql(documentFor(operation, everything), variables, credential);
        expectNoSecret(all, "all fields");
        const refused = await expectRefused(all, before, "all fields");
        expect(refused.length).toBeGreaterThan(0);
        // 2. Each of them alone, beside everything allowed, is refused and writes nothing.
        for (const coordinate of refused) {
          const others = new Set(refused.filter((other) => other !== coordinate));
          const one = fullSelection(successType(operation), others);
          // Reachable only through another refused field: refused with it, already above.
          if (!one.included.has(coordinate)) continue;
          const before = await written();
          const result = await testApp.gql(documentFor(operation, one.text), variables, credential);
          expectNoSecret(result, coordinate);
          expect(await expectRefused(result, before, coordinate)).toEqual([coordinate]);
        }
        // 3. Everything else at once: the committed write is answered, and shows no stored secret.
        const allowed = fullSelection(successType(operation), new Set(refused)).text;
        const answered = await testApp.gql(documentFor(operation, allowed), variables, credential);
        expect(answered.errors, allowed).toBeUndefined();
        expect(answered.data?.[operation.field]?.__typename).toBe(successType(operation).name);
        expectNoSecret(answered, allowed);
      });
    }
  }

  it("a READ key may select every field of the same answers, and sees what the others may not", async () => {
    let revealing = 0;
    for (const operation of operations) {
      const result = await testApp.gql(
        documentFor(operation, fullSelection(successType(operation), new Set()).text),
        operation.variables("reader"),
        readerKey,
      );
      expect(result.errors, operation.name).toBeUndefined();
      expect(result.data?.[operation.field]?.__typename).toBe(successType(operation).name);
      if (secrets.some((secret) => JSON.stringify(result).includes(secret))) revealing += 1;
    }
    // Every operation on the victim's interaction (recording a new one has nothing to reveal).
    expect(revealing).toBe(operations.filter((op) => op.field !== "recordInteraction").length);
  });
});

describe("a rater's own history", () => {
  it("an INGEST key sees the history it submitted, and no other rater's, in a committed write's answer", async () => {
    const submit = `mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) {
      ... on SubmitFeedbackPayload { feedback { id history { id } } superseded { id } } } }`;
    const mine = await testApp.key(["ingest"]);
    const first = await testApp.gql(
      submit,
      { input: { interactionId: victim2, positive: true, userId: "history-rater" } },
      mine,
    );
    const firstId = first.data?.submitBinaryFeedback.feedback.id;
    expect(firstId).toBeTruthy();
    const second = await testApp.gql(
      submit,
      { input: { interactionId: victim2, positive: false, userId: "history-rater" } },
      mine,
    );
    expect(second.errors).toBeUndefined();
    expect(second.data?.submitBinaryFeedback.superseded).toEqual([{ id: firstId }]);
    expect(second.data?.submitBinaryFeedback.feedback.history).toEqual([{ id: firstId }]);
    // The same rater through another key: the earlier opinion is not this key's to see.
    const third = await testApp.gql(
      submit,
      { input: { interactionId: victim2, positive: true, userId: "history-rater" } },
      ingestKey,
    );
    expect(third.errors).toBeUndefined();
    expect(third.data?.submitBinaryFeedback.superseded).toEqual([]);
    expect(third.data?.submitBinaryFeedback.feedback.history).toEqual([]);
    // A reader sees all of it.
    const read = await testApp.gql(
      `query($id: ID!) { node(id: $id) { ... on Feedback { history { id } } } }`,
      { id: third.data?.submitBinaryFeedback.feedback.id },
      readerKey,
    );
    // History is what this one replaced directly: the second opinion, submitted through `mine`.
    expect(read.data?.node.history).toEqual([
      { id: second.data?.submitBinaryFeedback.feedback.id },
    ]);
  });

  it("a refused selection names the field and writes nothing", async () => {
    const before = await storedCounts(testApp);
    const result = await testApp.gql(
      `mutation($input: CorrectionFeedbackInput!) { submitCorrection(input: $input) {
        ... on SubmitFeedbackPayload { feedback { id ... on CorrectionFeedback { originalResponse } } } } }`,
      { input: { interactionId: victim, correctedResponse: "better" } },
      ingestKey,
    );
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toContain("CorrectionFeedback.originalResponse");
    expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await storedCounts(testApp)).toEqual(before);
  });
});
