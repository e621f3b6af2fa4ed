import fc from "fast-check";
import {
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildSchema } from "../../src/resolvers/index.js";
import { recordInteraction, storedCounts, useTestApp } from "../support/app.js";

/**
 * Property-based: every mutation with generated inputs, and generated documents, never crash the
 * server (no 5xx, no INTERNAL_SERVER_ERROR) and a refused call changes no collection.
 */
const t = useTestApp();
const schema = buildSchema();
let knownIds: string[] = [];

beforeAll(async () => {
  const first = await recordInteraction(t);
  const second = await recordInteraction(t, { model: { id: "support-bot", version: "v2" } });
  knownIds = [first.id, second.id];
});

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "\u0000", "$where", "a.b", "💥".repeat(10), "x".repeat(300), "null"),
);

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.double(),
    fc.boolean(),
    hostileString,
    fc.constant(null),
    tie("object"),
    fc.array(tie("value"), { maxLength: 3 }),
  ),
  object: fc.dictionary(hostileString, tie("value"), { maxKeys: 4 }),
})).object;

function scalarValue(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case "Int":
      return fc.oneof(fc.integer({ min: -5, max: 600 }), fc.integer(), fc.constant(2 ** 31));
    case "Float":
      return fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, 0.5, 1, -1, 1e308));
    case "Boolean":
      return fc.boolean();
    case "ID":
      return fc.oneof(
        fc.constantFrom(...knownIds),
        hostileString,
        fc.stringMatching(/^[0-9a-f]{24}$/),
      );
    case "DateTime":
      return fc.oneof(
        fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
        hostileString,
      );
    case "JSONObject":
      return jsonValue;
    default:
      return fc.oneof(hostileString, fc.constantFrom("support-bot", "v1", "v2", "helpful"));
  }
}

/** Values shaped by an input type: mostly well-typed, with hostile contents. */
function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return valueFor(type.ofType, depth);
  if (isListType(type)) return fc.array(valueFor(type.ofType, depth + 1), { maxLength: 3 });
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((value) => value.name));
  if (isScalarType(type)) return scalarValue(type.name);
  if (isInputObjectType(type)) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    const shape = Object.fromEntries(
      fields.map((field) => [field.name, valueFor(field.type, depth + 1)]),
    );
    const requiredKeys = fields
      .filter((field) => isNonNullType(field.type))
      .map((field) => field.name);
    return fc.record(shape, { requiredKeys });
  }
  return fc.constant(null);
}

const mutationFields = Object.values(schema.getMutationType()?.getFields() ?? {});

/** A document calling `field` with every argument passed as a variable. */
function mutationDocument(field: (typeof mutationFields)[number]): string {
  const variables = field.args.map((arg) => `$${arg.name}: ${arg.type.toString()}`).join(", ");
  const args = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(", ");
  const selection = isLeafType(getNamedType(field.type)) ? "" : "{ __typename }";
  return `mutation${variables ? `(${variables})` : ""} { ${field.name}${args ? `(${args})` : ""} ${selection} }`;
}

async function send(query: string, variables?: Record<string, unknown>) {
  const response = await t.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      authorization: `Bearer ${t.adminKey}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as {
    data?: Record<string, { __typename?: string } | null> | null;
    errors?: Array<{ extensions?: { code?: string } }>;
  };
  return { status: response.status, body };
}

const refused = (body: Awaited<ReturnType<typeof send>>["body"]) =>
  Boolean(body.errors?.length) ||
  Object.values(body.data ?? {}).some((value) => value?.__typename?.endsWith("Error"));

describe("properties over every mutation and random documents", () => {
  it.each(mutationFields.map((field) => [field.name, field] as const))(
    "%s: no crash, no 5xx, and a refused call changes nothing",
    async (_name, field) => {
      const document = mutationDocument(field);
      const variables = fc.record(
        Object.fromEntries(field.args.map((arg) => [arg.name, valueFor(arg.type)])),
      );
      await fc.assert(
        fc.asyncProperty(variables, async (values) => {
          const before = await storedCounts(t);
          const { status, body } = await send(document, values);
          expect(status).toBeLessThan(500);
          const codes = (body.errors ?? []).map((error) => error.extensions?.code);
          expect(codes).not.toContain("INTERNAL_SERVER_ERROR");
          if (refused(body)) expect(await storedCounts(t)).toEqual(before);
        }),
        { numRuns: 12, seed: 20_261_127 },
      );
    },
  );

  it("random documents: no crash, no 5xx, nothing changed", async () => {
    const token = fc.oneof(
      fc.constantFrom(
        "{",
        "}",
        "(",
        ")",
        ":",
        "$",
        "...",
        "@",
        "query",
        "mutation",
        "subscription",
        "interactions",
        "feedback",
        "nodes",
        "recordInteraction",
        "__typename",
        "__schema",
        "first",
        "after",
        "ids",
        "input",
        "1",
        "-1",
        "1e400",
        '"x"',
        '"\\u0000"',
        "[",
        "]",
        "fragment",
        "on",
        "Query",
      ),
      fc.string({ maxLength: 8 }),
    );
    const documents = fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join(" "));
    await fc.assert(
      fc.asyncProperty(documents, async (document) => {
        const before = await storedCounts(t);
        const { status, body } = await send(document);
        expect(status).toBeLessThan(500);
        const codes = (body.errors ?? []).map((error) => error.extensions?.code);
        expect(codes).not.toContain("INTERNAL_SERVER_ERROR");
        if (refused(body)) expect(await storedCounts(t)).toEqual(before);
      }),
      { numRuns: 150, seed: 20_261_127 },
    );
  });
});
