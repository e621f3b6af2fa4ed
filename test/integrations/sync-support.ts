/**
 * Shared by the integration sync tests: a loopback HTTP server in front of the in-process app (so
 * the fakes' webhook deliveries reach it over HTTP), seeding of review items in the shapes the
 * pipeline and the conflicts service store, and running a sync job to its end through the real
 * worker.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ObjectId } from "mongodb";
import { expect } from "vitest";
import type { App } from "../../src/app.js";
import { systemActor } from "../../src/auth/actor.js";
import { parseId } from "../../src/ids.js";
import type { Services } from "../../src/services.js";
import type { FakeServer } from "../fakes/server.js";
import type { TestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

export interface Forwarder {
  readonly url: string;
  target: App | undefined;
  close(): Promise<void>;
}

export async function startForwarder(): Promise<Forwarder> {
  const forwarder = { target: undefined as App | undefined } as Forwarder & { server: Server };
  const server = createServer((request, response) => {
    if (!forwarder.target) {
      response.writeHead(503).end();
      return;
    }
    forwarder.target.handleNodeRequest(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  Object.assign(forwarder, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
  return forwarder;
}

const tester = systemActor("test");

/**
 * `count` interactions; the first `routed` go to one open expert_review routed item each
 * (CONTRACTS §2 shape), the next `conflicted` get disagreeing user feedback (an open conflict),
 * every second one gets an LLM-judge rating (a suggestion), every third a user correction (an
 * alternative).
 */
export async function seedReviewItems(
  services: Services,
  db: TestApp["store"]["db"],
  options: { routed: number; conflicted: number; tag: string },
): Promise<{ interactionIds: string[]; routed: string[]; conflicted: string[] }> {
  const interactionIds: string[] = [];
  for (let index = 0; index < options.routed + options.conflicted; index++) {
    const { interaction } = await services.interactions.record({
      query: `${options.tag} question ${index}: how do I export my data?`,
      response: `${options.tag} answer ${index}: use the export button.`,
      model: { id: "support-bot", version: "v2" },
    });
    const id = interaction._id.toHexString();
    interactionIds.push(id);
    if (index % 2 === 0)
      await services.feedback.submit(
        {
          kind: "rating",
          input: {
            interactionId: id,
            key: "judge_quality",
            score: 2,
            source: "llm_judge",
            category: "accuracy",
          },
        },
        tester,
      );
    if (index % 3 === 0)
      await services.feedback.submit(
        {
          kind: "correction",
          input: {
            interactionId: id,
            correctedResponse: `Settings → Privacy → Export (${index})`,
            userId: `corrector-${index}`,
          },
        },
        tester,
      );
  }
  const routed = interactionIds.slice(0, options.routed);
  const conflicted = interactionIds.slice(options.routed);
  const now = new Date();
  if (routed.length > 0)
    await db.collection("routedItems").insertMany(
      routed.map((id, index) => ({
        _id: new ObjectId(),
        route: "expert_review",
        state: "open",
        groupKey: `${options.tag}-${index}`,
        category: "accuracy",
        priority: 10 - (index % 5),
        feedbackIds: [],
        feedbackCount: 1,
        interactionIds: [new ObjectId(id)],
        reason: "low quality score",
        createdAt: now,
        updatedAt: now,
      })),
    );
  for (const id of conflicted) {
    await services.feedback.submit(
      { kind: "binary", input: { interactionId: id, positive: true, userId: "fan" } },
      tester,
    );
    await services.feedback.submit(
      { kind: "binary", input: { interactionId: id, positive: false, userId: "critic" } },
      tester,
    );
  }
  return { interactionIds, routed, conflicted };
}

/** A request the fake answers with a fault: its method and (a substring of) its path. */
export interface FaultedRequest {
  readonly method: string;
  readonly path: string;
}

/**
 * Seeds review items (`seedReviewItems`) and pushes them to `name` through the faults a push must
 * survive: `failing` answered twice with `status`, `throttled` refused once with 429 and
 * `Retry-After: 1`, `slow` answered once after 1.5 s, past the client's timeout, so its answer is
 * lost while the other side may have stored the write. Then pushes once more: a repeat must change
 * nothing on the other side.
 */
export async function seedAndPushThroughFaults(
  testApp: TestApp,
  server: FakeServer,
  name: string,
  options: {
    seed: { routed: number; conflicted: number; tag: string };
    failing: FaultedRequest & { status: number };
    throttled: FaultedRequest;
    slow: FaultedRequest;
  },
): Promise<Awaited<ReturnType<typeof seedReviewItems>>> {
  const seeded = await seedReviewItems(testApp.services, testApp.store.db, options.seed);
  const { failing, throttled, slow } = options;
  server.inject({
    fault: { kind: "status", status: failing.status },
    times: 2,
    method: failing.method,
    path: failing.path,
  });
  server.inject({
    fault: { kind: "status", status: 429, retryAfter: "1" },
    times: 1,
    method: throttled.method,
    path: throttled.path,
  });
  server.inject({
    fault: { kind: "delay", ms: 1_500 },
    times: 1,
    method: slow.method,
    path: slow.path,
  });
  await syncAndWait(testApp, name, "push");
  await syncAndWait(testApp, name, "push");
  return seeded;
}

const SYNC = /* GraphQL */ `
  mutation Sync($name: IntegrationName!, $direction: SyncDirection!) {
    syncIntegration(name: $name, direction: $direction) {
      __typename
      ... on Job { id state }
      ... on Error { message }
    }
  }
`;

/** Queues a sync through the API and waits until its job succeeded (the worker must run). */
export async function syncAndWait(
  testApp: TestApp,
  name: string,
  direction: "push" | "pull",
  timeoutMs = 60_000,
): Promise<void> {
  const result = await testApp.gql(SYNC, {
    name: name.toUpperCase(),
    direction: direction.toUpperCase(),
  });
  expect(result.errors).toBeUndefined();
  const job = result.data?.syncIntegration;
  expect(job.__typename).toBe("Job");
  const id = parseId(job.id, ["Job"], "id");
  await waitUntil(
    async () => {
      const doc = await testApp.services.jobs.get(id);
      if (doc?.state === "dead") throw new Error(`sync job died: ${JSON.stringify(doc.lastError)}`);
      return doc === null || doc.state === "succeeded";
    },
    { timeoutMs, intervalMs: 100, what: `${name} ${direction} sync` },
  );
}

/** Feedback of one source, keyed and counted to prove nothing is missing or doubled. */
export async function expertFeedback(testApp: TestApp, annotatorPrefix: string) {
  return testApp.store.collections.feedback
    .find({ source: "expert", annotatorId: { $regex: `^${annotatorPrefix}` } })
    .toArray();
}
