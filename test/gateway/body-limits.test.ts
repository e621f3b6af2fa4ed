import { describe, expect, it } from "vitest";
import { BODY_LIMITS } from "../../src/body-limits.js";
import { interactionInput, recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();

const THUMBS = `mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename ... on Error { message } } }`;
const BATCH = `mutation($inputs: [RecordInteractionInput!]!) { recordInteractions(inputs: $inputs) { __typename ... on RecordInteractionsPayload { recorded } } }`;

/**
 * A JSON body streamed in 64 KiB chunks, as a slow client sends it: `head` first, then padding
 * inside a string variable, then `tail`. Counts the chunks the server pulled.
 */
function streamedBody(head: string, padBytes: number, tail: string) {
  const encoder = new TextEncoder();
  const chunk = encoder.encode("x".repeat(64 * 1024));
  let sent = 0;
  let pulled = 0;
  let phase: "head" | "pad" | "tail" | "done" = "head";
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (phase === "head") {
        controller.enqueue(encoder.encode(head));
        phase = "pad";
      } else if (phase === "pad") {
        const size = Math.min(chunk.byteLength, padBytes - sent);
        controller.enqueue(chunk.subarray(0, size));
        sent += size;
        if (sent >= padBytes) phase = "tail";
      } else if (phase === "tail") {
        controller.enqueue(encoder.encode(tail));
        phase = "done";
      } else {
        controller.close();
      }
    },
  });
  return { body, pulled: () => pulled };
}

async function post(
  body: BodyInit,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const response = await testApp.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    duplex: "half",
  } as RequestInit);
  return { status: response.status, json: await response.json() };
}

describe("request body limits", () => {
  it("refuses a 21 MB single feedback with 413 after reading only its start, and stores nothing", async () => {
    const interaction = await recordInteraction(testApp);
    const before = await testApp.store.collections.feedback.countDocuments();
    const size = 21 * 1024 * 1024;
    const { body, pulled } = streamedBody(
      `{"query":${JSON.stringify(THUMBS)},"variables":{"input":{"interactionId":"${interaction.id}","positive":true,"comment":"`,
      size,
      `"}}}`,
    );
    const answer = await post(body, { authorization: `Bearer ${testApp.adminKey}` });
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0].extensions).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      limitBytes: BODY_LIMITS.feedback,
    });
    expect(answer.json.errors[0].message).toContain("1 MiB");
    // The server stopped reading at the feedback limit (plus the stream's read-ahead), not at 21 MB.
    expect(pulled() * 64 * 1024).toBeLessThan(BODY_LIMITS.feedback + 1024 * 1024);
    expect(await testApp.store.collections.feedback.countDocuments()).toBe(before);
  });

  it("refuses at once from Content-Length, before reading any of the body", async () => {
    const { body, pulled } = streamedBody('{"query":"{ __typename }","v":"', 1024 * 1024, '"}');
    const answer = await post(body, {
      authorization: `Bearer ${testApp.adminKey}`,
      "content-length": String(BODY_LIMITS.batch + 1),
    });
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    expect(pulled()).toBeLessThanOrEqual(1);
  });

  it("gives anonymous requests a small limit", async () => {
    const padding = "x".repeat(BODY_LIMITS.anonymous);
    const answer = await post(
      JSON.stringify({ query: "{ __typename }", variables: { padding } }),
      {},
    );
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0].message).toContain("without a credential");
    const small = await post(JSON.stringify({ query: "{ __typename }" }), {});
    expect(small.status).toBe(200);
  });

  it("lets a large batch through, and limits other operations to the default", async () => {
    const text = "y".repeat(20_000);
    const inputs = Array.from({ length: 100 }, (_, i) =>
      interactionInput({ query: `large batch ${i}`, response: text }),
    );
    const batch = JSON.stringify({ query: BATCH, variables: { inputs } });
    expect(batch.length).toBeGreaterThan(BODY_LIMITS.feedback);
    const accepted = await post(batch, { authorization: `Bearer ${testApp.adminKey}` });
    expect(accepted.status).toBe(200);
    expect(accepted.json.data.recordInteractions.recorded).toBe(100);

    const query = JSON.stringify({
      query: "query($pad: String) { __typename }",
      variables: { pad: "z".repeat(BODY_LIMITS.default) },
    });
    const refused = await post(query, { authorization: `Bearer ${testApp.adminKey}` });
    expect(refused.status).toBe(413);
    expect(refused.json.errors[0].extensions.limitBytes).toBe(BODY_LIMITS.default);
  });

  it("refuses a large body from an invalid credential before reading the rest", async () => {
    const { body, pulled } = streamedBody(
      `{"query":${JSON.stringify(BATCH)},"variables":{"pad":"`,
      8 * 1024 * 1024,
      `"}}`,
    );
    const answer = await post(body, { authorization: "Bearer not-a-real-key-0123456789" });
    expect(answer.status).toBe(401);
    expect(pulled() * 64 * 1024).toBeLessThan(BODY_LIMITS.default + 1024 * 1024);
  });

  it("needs the query before the variables in a body over the default limit", async () => {
    const { body } = streamedBody(
      '{"variables":{"padding":"',
      2 * BODY_LIMITS.default,
      `"},"query":${JSON.stringify(BATCH)}}`,
    );
    const answer = await post(body, { authorization: `Bearer ${testApp.adminKey}` });
    expect(answer.status).toBe(413);
    expect(answer.json.errors[0].message).toContain('"query" before "variables"');
  });
});
