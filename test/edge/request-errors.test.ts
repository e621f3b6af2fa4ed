import { describe, expect, it } from "vitest";
import { interactionInput, RECORD, storedCounts, useTestApp } from "../support/app.js";

const t = useTestApp();

const GRAPHQL_RESPONSE = "application/graphql-response+json";

async function post(
  body: string | Uint8Array,
  { accept = GRAPHQL_RESPONSE, credential = t.adminKey as string | null } = {},
) {
  const headers: Record<string, string> = { "content-type": "application/json", accept };
  if (credential) headers.authorization = `Bearer ${credential}`;
  const response = await t.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers,
    body: body as BodyInit,
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const nested = (levels: number, leaf = "1") => {
  let json = leaf;
  for (let level = 0; level < levels; level++) json = `{"a":${json}}`;
  return json;
};

/** Lines logged while `run` ran; a client mistake must never reach the error log. */
async function loggedDuring(run: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const before = t.logs.length;
  await run();
  return t.logs.slice(before);
}

const errorLines = (lines: Array<Record<string, unknown>>) =>
  lines.filter((line) => line.level === "error" || line.level === "fatal");

describe("malformed requests are refused as client errors", () => {
  it("refuses malformed `variables` in a GET with 400 BAD_REQUEST", async () => {
    const lines = await loggedDuring(async () => {
      const response = await t.app.fetch(
        `http://localhost/graphql?query=${encodeURIComponent("query($n: Int) { __typename }")}&variables=%7Bbad`,
        { headers: { accept: GRAPHQL_RESPONSE, authorization: `Bearer ${t.adminKey}` } },
      );
      expect(response.status).toBe(400);
      const body = (await response.json()) as Record<string, any>;
      expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
      expect(body.errors[0].message).toContain("variables");
    });
    expect(errorLines(lines)).toEqual([]);
  });

  it("refuses JSON nested thousands of levels deep without a stack overflow, changing nothing", async () => {
    const before = await storedCounts(t);
    const input = JSON.stringify(interactionInput({ metadata: { x: 1 } }));
    const lines = await loggedDuring(async () => {
      const deep = await post(
        `{"query":${JSON.stringify(RECORD)},"variables":{"input":${input.replace('{"x":1}', nested(5_000))}}}`,
      );
      expect(deep.status).toBe(400);
      expect(deep.body.errors[0].extensions.code).toBe("BAD_REQUEST");
      expect(deep.body.errors[0].message).toContain("deeper than");

      // Shallow enough for the request, too deep for a stored field: a validation error naming it.
      const field = await post(
        `{"query":${JSON.stringify(RECORD)},"variables":{"input":${input.replace('{"x":1}', nested(40))}}}`,
      );
      expect(field.status).toBe(200);
      const payload = field.body.data.recordInteraction;
      expect(payload.__typename).toBe("ValidationError");
      expect(payload.fields[0].path).toContain("metadata");
      expect(payload.fields[0].message).toContain("deeper than 32");
    });
    expect(errorLines(lines)).toEqual([]);
    expect(await storedCounts(t)).toEqual(before);
  });

  it("refuses a body that is not valid UTF-8 instead of replacing the bytes", async () => {
    const body = Buffer.concat([
      Buffer.from(`{"query":"query($s: String) { __typename }","variables":{"s":"`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`"}}`),
    ]);
    const response = await post(new Uint8Array(body));
    expect(response.status).toBe(400);
    expect(response.body.errors[0].extensions.code).toBe("BAD_REQUEST");
    expect(response.body.errors[0].message).toContain("UTF-8");
  });

  it("refuses a NUL byte in a metadata key as a validation error naming the field, logging no raw key", async () => {
    const before = await storedCounts(t);
    const lines = await loggedDuring(async () => {
      const response = await post(
        JSON.stringify({
          query: RECORD,
          variables: { input: interactionInput({ metadata: { "secret\u0000key": 1 } }) },
        }),
      );
      const payload = response.body.data.recordInteraction;
      expect(payload.__typename).toBe("ValidationError");
      expect(payload.fields).toEqual([
        expect.objectContaining({ path: expect.stringContaining("metadata") }),
      ]);
      expect(payload.fields[0].message).toContain("NUL");
    });
    expect(errorLines(lines)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain("secret");
    expect(await storedCounts(t)).toEqual(before);
  });
});

describe("client mistakes follow GraphQL over HTTP and stay out of the error log", () => {
  const byVariable = JSON.stringify({
    query: "query($first: Int) { interactions(first: $first) { totalCount } }",
    variables: { first: "ten" },
  });
  const inline = JSON.stringify({ query: '{ interactions(first: "ten") { totalCount } }' });

  it("gives a variables type error and an inline type error the same status and a code", async () => {
    for (const [accept, status] of [
      [GRAPHQL_RESPONSE, 400],
      ["application/json", 200],
    ] as const) {
      const viaVariables = await post(byVariable, { accept });
      const viaLiteral = await post(inline, { accept });
      expect([viaVariables.status, viaLiteral.status]).toEqual([status, status]);
      expect(viaVariables.body.errors[0].extensions.code).toBe("BAD_USER_INPUT");
      expect(viaLiteral.body.errors[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(viaVariables.body.data).toBeUndefined();
      expect(viaLiteral.body.data).toBeUndefined();
    }
  });

  it("logs refused credentials, forbidden fields, forged cursors and self-comparisons in one info line each", async () => {
    const ingestOnly = await t.key(["ingest"]);
    const lines = await loggedDuring(async () => {
      const refused = await post(JSON.stringify({ query: "{ __typename }" }), {
        credential: "lg_not_a_real_key_000000000000",
      });
      expect(refused.status).toBe(401);
      const forbidden = await post(
        JSON.stringify({ query: "{ interactions(first: 1) { totalCount } }" }),
        { credential: ingestOnly },
      );
      expect(forbidden.body.errors[0].extensions.code).toBe("FORBIDDEN");
      const forged = await post(
        JSON.stringify({ query: '{ interactions(first: 2, after: "Zm9vOmJhcg") { totalCount } }' }),
      );
      expect(forged.body.errors[0].extensions.code).toBe("VALIDATION_FAILED");
      const itself = await post(
        JSON.stringify({
          query:
            '{ compareModelVersions(modelId: "m", baselineVersion: "v1", candidateVersion: "v1") { __typename } }',
        }),
      );
      expect(itself.body.errors[0].extensions.code).toBe("VALIDATION_FAILED");
    });
    expect(errorLines(lines)).toEqual([]);
    const refusals = lines.filter(
      (line) => line.msg === "request refused" || line.msg === "credential refused",
    );
    expect(refusals.map((line) => line.code)).toEqual([
      "UNAUTHENTICATED",
      "FORBIDDEN",
      "VALIDATION_FAILED",
      "VALIDATION_FAILED",
    ]);
    for (const line of refusals) {
      expect(line.level).toBe("info");
      expect(JSON.stringify(line)).not.toContain("stack");
    }
  });
});
