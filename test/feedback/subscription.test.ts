import { describe, expect, it } from "vitest";
import { recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();

/** Opens a GraphQL-over-SSE subscription and collects `next` payloads until `count` arrive. */
async function subscribe(query: string, variables: Record<string, unknown>, credential: string) {
  const controller = new AbortController();
  const response = await testApp.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      authorization: `Bearer ${credential}`,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const events: any[] = [];
  return {
    async take(count: number): Promise<any[]> {
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary = buffer.indexOf("\n\n");
        while (boundary >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const data = block
            .split("\n")
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trim())
            .join("");
          if (data) events.push(JSON.parse(data));
          boundary = buffer.indexOf("\n\n");
        }
      }
      return events.splice(0, count);
    },
    close() {
      controller.abort();
    },
  };
}

const LIVE = /* GraphQL */ `
  subscription Live($filter: FeedbackStreamFilter) {
    feedbackReceived(filter: $filter) { kind sentiment model { version } ... on RatingFeedback { score } }
  }
`;
const RATE = `mutation($input: RatingFeedbackInput!) { submitRating(input: $input) { __typename } }`;

describe("feedbackReceived", () => {
  it("streams new feedback matching the filter over server-sent events", async () => {
    const v2 = await recordInteraction(testApp, { model: { id: "live", version: "v2" } });
    const v1 = await recordInteraction(testApp, { model: { id: "live", version: "v1" } });
    const stream = await subscribe(
      LIVE,
      { filter: { modelId: "live", modelVersion: "v2", kinds: ["RATING"] } },
      testApp.adminKey,
    );
    try {
      // Reading pulls the stream, which makes the server start listening; wait for that.
      const first = stream.take(1);
      await expect
        .poll(() => testApp.services.events.listenerCount("feedbackRecorded"))
        .toBeGreaterThan(0);
      await testApp.gql(RATE, { input: { interactionId: v1.id, score: 1 } });
      await testApp.gql(
        `mutation($id: ID!) { submitBinaryFeedback(input: { interactionId: $id, positive: true }) { __typename } }`,
        { id: v2.id },
      );
      await testApp.gql(RATE, { input: { interactionId: v2.id, score: 5 } });
      const [event] = await first;
      expect(event.data.feedbackReceived).toEqual({
        kind: "RATING",
        sentiment: "POSITIVE",
        model: { version: "v2" },
        score: 5,
      });
    } finally {
      stream.close();
    }
  });

  it("needs the read scope", async () => {
    const ingestOnly = await testApp.key(["ingest"]);
    const stream = await subscribe(LIVE, {}, ingestOnly);
    try {
      const [event] = await stream.take(1);
      expect(event.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    } finally {
      stream.close();
    }
  });
});
