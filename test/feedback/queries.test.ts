import { beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import {
  type GraphQLResponse,
  recordInteraction,
  type TestApp,
  useTestApp,
} from "../support/app.js";

/**
 * The analysts' listings: Relay connections over interactions, feedback and conflicts, and every
 * filter of InteractionFilter and FeedbackFilter, each checked against exactly the items it must
 * return, newest first.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}
interface Connection<Node> {
  totalCount: number;
  pageInfo: PageInfo;
  edges: Array<{ cursor: string; node: Node }>;
}
type PageArgs = { first?: number; after?: string; last?: number; before?: string };

/** The database id inside a global ID ("Typename:hex", base64). */
const hexOf = (globalId: string) =>
  Buffer.from(globalId, "base64").toString("utf8").split(":")[1] ?? "";

/** Newest first; equal times by id, newest id first: the order every listing promises. */
function newestFirst<Node extends { id: string }>(
  nodes: readonly Node[],
  time: (node: Node) => string,
): Node[] {
  return [...nodes].sort(
    (left, right) =>
      Date.parse(time(right)) - Date.parse(time(left)) ||
      hexOf(right.id).localeCompare(hexOf(left.id)),
  );
}

const INTERACTIONS = /* GraphQL */ `
  query Interactions($filter: InteractionFilter, $first: Int, $after: String, $last: Int, $before: String) {
    interactions(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id idempotencyKey createdAt userId } }
    }
  }
`;

const FEEDBACK = /* GraphQL */ `
  query Feedback($filter: FeedbackFilter, $first: Int, $after: String, $last: Int, $before: String) {
    feedback(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id idempotencyKey createdAt status userId } }
    }
  }
`;

const CONFLICTS = /* GraphQL */ `
  query Conflicts($status: ConflictStatus, $modelId: String, $first: Int, $after: String, $last: Int, $before: String) {
    conflicts(status: $status, modelId: $modelId, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id status detectedAt model { id } interaction { idempotencyKey } } }
    }
  }
`;

interface InteractionNode {
  id: string;
  idempotencyKey: string;
  createdAt: string;
  userId: string | null;
}
interface FeedbackNode {
  id: string;
  idempotencyKey: string;
  createdAt: string;
  status: string;
  userId: string | null;
}
interface ConflictNode {
  id: string;
  status: string;
  detectedAt: string;
  model: { id: string } | null;
  interaction: { idempotencyKey: string } | null;
}

async function ok<T>(pending: Promise<GraphQLResponse<T>>): Promise<T> {
  const result = await pending;
  if (result.errors || !result.data)
    throw new Error(`GraphQL failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}

function listings(testApp: TestApp) {
  return {
    interactions: (variables: { filter?: Record<string, unknown> } & PageArgs = {}) =>
      ok(testApp.gql<{ interactions: Connection<InteractionNode> }>(INTERACTIONS, variables)).then(
        (data) => data.interactions,
      ),
    feedback: (variables: { filter?: Record<string, unknown> } & PageArgs = {}) =>
      ok(testApp.gql<{ feedback: Connection<FeedbackNode> }>(FEEDBACK, variables)).then(
        (data) => data.feedback,
      ),
    conflicts: (variables: { status?: string; modelId?: string } & PageArgs = {}) =>
      ok(testApp.gql<{ conflicts: Connection<ConflictNode> }>(CONFLICTS, variables)).then(
        (data) => data.conflicts,
      ),
  };
}

const SUBMIT: Record<string, [mutation: string, input: string]> = {
  BINARY: ["submitBinaryFeedback", "BinaryFeedbackInput"],
  RATING: ["submitRating", "RatingFeedbackInput"],
  CORRECTION: ["submitCorrection", "CorrectionFeedbackInput"],
  COMPARISON: ["submitComparison", "ComparisonFeedbackInput"],
  COMMENT: ["submitComment", "CommentFeedbackInput"],
  IMPLICIT: ["submitImplicitSignal", "ImplicitFeedbackInput"],
  FLAG: ["submitFlag", "FlagFeedbackInput"],
};

/** Submits one feedback item through the API; returns its global id and pseudonymous user id. */
async function submit(
  testApp: TestApp,
  kind: keyof typeof SUBMIT,
  input: Record<string, unknown>,
): Promise<{ id: string; userId: string | null }> {
  const [mutation, inputType] = SUBMIT[kind] as [string, string];
  const data = await ok(
    testApp.gql<{
      result: { __typename: string; feedback?: { id: string; userId: string | null } };
    }>(
      `mutation Submit($input: ${inputType}!) {
        result: ${mutation}(input: $input) {
          __typename
          ... on SubmitFeedbackPayload { feedback { id userId } }
          ... on Error { message }
          ... on ValidationError { fields { path message } }
        }
      }`,
      { input },
    ),
  );
  if (data.result.__typename !== "SubmitFeedbackPayload" || !data.result.feedback) {
    throw new Error(`submit ${kind} failed: ${JSON.stringify(data.result)}`);
  }
  // Conflicts are checked right after the answer, at the (hand-moved) clock's time then: wait for
  // that check before the caller moves the clock on.
  await testApp.services.outbox.drain();
  return data.result.feedback;
}

/** Every item of a connection, by walking it forwards with `first`/`after`. */
async function walkForwards<Node>(
  fetchPage: (args: PageArgs) => Promise<Connection<Node>>,
  size: number,
): Promise<{ nodes: Node[]; pages: Array<Connection<Node>> }> {
  const pages: Array<Connection<Node>> = [];
  let after: string | undefined;
  for (;;) {
    const page = await fetchPage({ first: size, ...(after ? { after } : {}) });
    pages.push(page);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor ?? undefined;
    if (pages.length > 100) throw new Error("the connection never ends");
  }
  return { nodes: pages.flatMap((page) => page.edges.map((edge) => edge.node)), pages };
}

/** Every item of a connection, by walking it backwards with `last`/`before`. */
async function walkBackwards<Node>(
  fetchPage: (args: PageArgs) => Promise<Connection<Node>>,
  size: number,
): Promise<{ nodes: Node[]; pages: Array<Connection<Node>> }> {
  const pages: Array<Connection<Node>> = [];
  let before: string | undefined;
  for (;;) {
    const page = await fetchPage({ last: size, ...(before ? { before } : {}) });
    pages.unshift(page);
    if (!page.pageInfo.hasPreviousPage) break;
    before = page.pageInfo.startCursor ?? undefined;
    if (pages.length > 100) throw new Error("the connection never ends");
  }
  return { nodes: pages.flatMap((page) => page.edges.map((edge) => edge.node)), pages };
}

/** Page invariants: cursors match the edges, every page knows the total. */
function expectConsistentPages<Node>(pages: Array<Connection<Node>>, total: number) {
  for (const page of pages) {
    expect(page.totalCount).toBe(total);
    expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
  }
}

// ---------------------------------------------------------------------------------------------

describe("Relay connections", () => {
  const clock = createManualClock(new Date("2025-05-01T00:00:00Z"));
  const testApp = useTestApp({ clock });
  const list = listings(testApp);
  const BASE = Date.UTC(2025, 3, 1);
  /** Interactions whose answers get a conflict (a user's thumbs up against an expert's down). */
  const DISPUTED = [0, 2, 3, 5, 8, 11, 13, 17, 20];
  const RESOLVED = [3, 11, 20];
  const modelOf = (index: number) => (index % 3 === 0 ? "other-bot" : "page-bot");
  const conflictIds = new Map<number, string>();

  beforeAll(async () => {
    const ids: string[] = [];
    for (let index = 0; index < 25; index++) {
      // 5, 6 and 7 share one time, so a page boundary (page size 7) falls inside a tie.
      const slot = index >= 5 && index <= 7 ? 6 : index;
      const { id } = await recordInteraction(testApp, {
        idempotencyKey: `page-ix-${String(index).padStart(2, "0")}`,
        model: { id: modelOf(index), version: "v1" },
        userId: `pager-${index}`,
        createdAt: new Date(BASE - slot * HOUR).toISOString(),
      });
      ids.push(id);
    }
    for (const [index, id] of ids.entries()) {
      await submit(testApp, "BINARY", {
        interactionId: id,
        positive: true,
        createdAt: new Date(BASE - index * HOUR + MINUTE).toISOString(),
        idempotencyKey: `page-fb-up-${index}`,
      });
    }
    for (const [position, index] of DISPUTED.entries()) {
      // Conflicts are detected "now": two share a detection time, the others are a minute apart.
      if (position !== 4) clock.advance(MINUTE);
      await submit(testApp, "BINARY", {
        interactionId: ids[index],
        positive: false,
        source: "EXPERT",
        annotatorId: "expert-1",
        createdAt: new Date(BASE - index * HOUR + 2 * MINUTE).toISOString(),
        idempotencyKey: `page-fb-down-${index}`,
      });
    }
    const open = await list.conflicts({ first: 50 });
    for (const { node } of open.edges) {
      conflictIds.set(Number(node.interaction?.idempotencyKey.slice("page-ix-".length)), node.id);
    }
    for (const index of RESOLVED) {
      const data = await ok(
        testApp.gql<{ resolveConflict: { __typename: string } }>(
          `mutation Resolve($id: ID!) { resolveConflict(id: $id, decision: DISMISS) { __typename } }`,
          { id: conflictIds.get(index) },
        ),
      );
      expect(data.resolveConflict.__typename).toBe("Conflict");
    }
  }, 60_000);

  /** Every interaction, in the promised order, from one big page. */
  const allInteractions = async () => {
    const page = await list.interactions({ first: 200 });
    const nodes = page.edges.map((edge) => edge.node);
    expect(nodes).toEqual(newestFirst(nodes, (node) => node.createdAt));
    return nodes;
  };

  it("lists newest first, ties broken by id", async () => {
    const nodes = await allInteractions();
    expect(nodes).toHaveLength(25);
    // Index 0 is newest; the tie (5, 6, 7) is ordered by id, i.e. the later record first.
    expect(nodes.map((node) => node.idempotencyKey).slice(0, 9)).toEqual([
      "page-ix-00",
      "page-ix-01",
      "page-ix-02",
      "page-ix-03",
      "page-ix-04",
      "page-ix-07",
      "page-ix-06",
      "page-ix-05",
      "page-ix-08",
    ]);
  });

  it("pages forwards with first/after through every interaction, without gaps or repeats", async () => {
    const all = await allInteractions();
    const { nodes, pages } = await walkForwards((args) => list.interactions(args), 7);
    expect(nodes).toEqual(all);
    expect(pages.map((page) => page.edges.length)).toEqual([7, 7, 7, 4]);
    expect(pages.map((page) => page.pageInfo.hasNextPage)).toEqual([true, true, true, false]);
    expect(pages.map((page) => page.pageInfo.hasPreviousPage)).toEqual([false, true, true, true]);
    expectConsistentPages(pages, 25);
  });

  it("pages backwards with last/before through every interaction, without gaps or repeats", async () => {
    const all = await allInteractions();
    const { nodes, pages } = await walkBackwards((args) => list.interactions(args), 7);
    expect(nodes).toEqual(all);
    expect(pages.map((page) => page.edges.length)).toEqual([4, 7, 7, 7]);
    expect(pages.map((page) => page.pageInfo.hasPreviousPage)).toEqual([false, true, true, true]);
    expect(pages.map((page) => page.pageInfo.hasNextPage)).toEqual([true, true, true, false]);
    expectConsistentPages(pages, 25);
  });

  it("bounds a window with after and before, taken from either end", async () => {
    const all = await allInteractions();
    const cursors = (await list.interactions({ first: 200 })).edges.map((edge) => edge.cursor);
    const window = { after: cursors[3], before: cursors[10] };
    const forwards = await list.interactions({ ...window, first: 100 });
    expect(forwards.edges.map((edge) => edge.node)).toEqual(all.slice(4, 10));
    const tail = await list.interactions({ ...window, last: 2 });
    expect(tail.edges.map((edge) => edge.node)).toEqual(all.slice(8, 10));
    expect(tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    const head = await list.interactions({ ...window, first: 2 });
    expect(head.edges.map((edge) => edge.node)).toEqual(all.slice(4, 6));
    expect(head.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });

  it("pages by exact boundaries: the last full page says there is nothing after it", async () => {
    const all = await allInteractions();
    const first = await list.interactions({ first: 5 });
    const rest = await list.interactions({ first: 20, after: first.pageInfo.endCursor ?? "" });
    expect(rest.edges.map((edge) => edge.node)).toEqual(all.slice(5));
    expect(rest.pageInfo.hasNextPage).toBe(false);
    const beyond = await list.interactions({ first: 5, after: rest.pageInfo.endCursor ?? "" });
    expect(beyond.edges).toEqual([]);
    expect(beyond.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: true,
      startCursor: null,
      endCursor: null,
    });
    const everything = await list.interactions({ last: 25 });
    expect(everything.edges.map((edge) => edge.node)).toEqual(all);
    expect(everything.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it("uses 20 as the default page size and accepts up to 200", async () => {
    const page = await list.interactions();
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const max = await list.interactions({ first: 200 });
    expect(max.edges).toHaveLength(25);
    expect(max.pageInfo.hasNextPage).toBe(false);
    const none = await list.interactions({ first: 0 });
    expect(none.edges).toEqual([]);
    expect(none.pageInfo.hasNextPage).toBe(true);
    expect(none.totalCount).toBe(25);
  });

  it.each([
    [{ first: 201 }, "first"],
    [{ last: 201 }, "last"],
    [{ first: -1 }, "first"],
    [{ last: -5 }, "last"],
  ])("refuses the page size %o, naming the argument", async (args, name) => {
    for (const document of [INTERACTIONS, FEEDBACK, CONFLICTS]) {
      const result = await testApp.gql(document, args);
      expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
      expect(result.errors?.[0]?.message).toContain(`${name}: must be between 0 and 200`);
    }
  });

  it.each([
    ["after", "not-a-cursor"],
    ["before", "not-a-cursor"],
    ["after", Buffer.from("1700000000000:zzzz").toString("base64url")],
    ["before", Buffer.from("yesterday:0123456789abcdef01234567").toString("base64url")],
    ["after", Buffer.from("1:0123456789abcdef01234567:extra").toString("base64url")],
  ])("refuses an invalid %s cursor (%s), naming the argument", async (name, cursor) => {
    for (const document of [INTERACTIONS, FEEDBACK, CONFLICTS]) {
      const result = await testApp.gql(document, { first: 5, [name]: cursor });
      expect(result.data).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
      expect(result.errors?.[0]?.message).toContain(
        `${name}: is not a cursor returned by this connection`,
      );
    }
  });

  it("pages through feedback both ways, with the total of the filter", async () => {
    const all = (await list.feedback({ first: 200 })).edges.map((edge) => edge.node);
    expect(all).toHaveLength(25 + DISPUTED.length);
    expect(all).toEqual(newestFirst(all, (node) => node.createdAt));
    const forwards = await walkForwards((args) => list.feedback(args), 10);
    expect(forwards.nodes).toEqual(all);
    expectConsistentPages(forwards.pages, all.length);
    const backwards = await walkBackwards((args) => list.feedback(args), 8);
    expect(backwards.nodes).toEqual(all);
    expectConsistentPages(backwards.pages, all.length);
    const experts = await walkForwards(
      (args) => list.feedback({ ...args, filter: { sources: ["EXPERT"] } }),
      4,
    );
    // Older interactions got their expert feedback earlier: DISPUTED order is newest first.
    expect(experts.nodes.map((node) => node.idempotencyKey)).toEqual(
      DISPUTED.map((index) => `page-fb-down-${index}`),
    );
    expectConsistentPages(experts.pages, DISPUTED.length);
  });

  it("pages through conflicts by detection time, filtered by status and model", async () => {
    const all = (await list.conflicts({ first: 200 })).edges.map((edge) => edge.node);
    expect(all.map((node) => node.interaction?.idempotencyKey).sort()).toEqual(
      DISPUTED.map((index) => `page-ix-${String(index).padStart(2, "0")}`).sort(),
    );
    expect(all).toEqual(newestFirst(all, (node) => node.detectedAt));
    // Two conflicts were detected at the same instant; they sit next to each other in id order.
    expect(new Set(all.map((node) => node.detectedAt)).size).toBe(DISPUTED.length - 1);
    const forwards = await walkForwards((args) => list.conflicts(args), 4);
    expect(forwards.nodes).toEqual(all);
    expectConsistentPages(forwards.pages, DISPUTED.length);
    const backwards = await walkBackwards((args) => list.conflicts(args), 2);
    expect(backwards.nodes).toEqual(all);
    expectConsistentPages(backwards.pages, DISPUTED.length);

    const byStatus = (status: string) =>
      all.filter((node) => node.status === status).map((node) => node.interaction?.idempotencyKey);
    const resolved = await walkForwards(
      (args) => list.conflicts({ ...args, status: "RESOLVED" }),
      2,
    );
    expect(resolved.nodes.map((node) => node.interaction?.idempotencyKey)).toEqual(
      byStatus("RESOLVED"),
    );
    expect(byStatus("RESOLVED").sort()).toEqual(
      RESOLVED.map((index) => `page-ix-${String(index).padStart(2, "0")}`),
    );
    expectConsistentPages(resolved.pages, RESOLVED.length);
    const open = await list.conflicts({ status: "OPEN", first: 50 });
    expect(open.edges.map((edge) => edge.node.interaction?.idempotencyKey)).toEqual(
      byStatus("OPEN"),
    );
    expect(open.totalCount).toBe(DISPUTED.length - RESOLVED.length);

    const other = await walkForwards(
      (args) => list.conflicts({ ...args, modelId: "other-bot" }),
      2,
    );
    const expectedOther = all.filter((node) => node.model?.id === "other-bot");
    expect(other.nodes).toEqual(expectedOther);
    expect(expectedOther.map((node) => node.interaction?.idempotencyKey).sort()).toEqual([
      "page-ix-00",
      "page-ix-03",
    ]);
    expectConsistentPages(other.pages, expectedOther.length);
    const both = await list.conflicts({ modelId: "page-bot", status: "OPEN", first: 50 });
    expect(both.edges.map((edge) => edge.node)).toEqual(
      all.filter((node) => node.model?.id === "page-bot" && node.status === "OPEN"),
    );
    expect(both.totalCount).toBe(both.edges.length);
  });

  it("keeps a cursor valid while newer items arrive (keyset, not offset)", async () => {
    const filter = { modelId: "other-bot" };
    const before = (await list.interactions({ filter, first: 200 })).edges.map((edge) => edge.node);
    const first = await list.interactions({ filter, first: 3 });
    await recordInteraction(testApp, {
      idempotencyKey: "page-ix-newest",
      model: { id: "other-bot", version: "v1" },
      createdAt: new Date(BASE + HOUR).toISOString(),
    });
    const next = await list.interactions({
      filter,
      first: 3,
      after: first.pageInfo.endCursor ?? "",
    });
    expect([...first.edges, ...next.edges].map((edge) => edge.node)).toEqual(before.slice(0, 6));
    expect(next.totalCount).toBe(before.length + 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe("interaction and feedback filters", () => {
  const testApp = useTestApp({ clock: createManualClock(new Date("2025-04-10T00:00:00Z")) });
  const list = listings(testApp);
  const ids: Record<string, string> = {};
  const users: Record<string, string> = {};
  const times: Record<string, string> = {};

  const interactions: Array<[label: string, input: Record<string, unknown>]> = [
    [
      "ix-reset",
      {
        model: { id: "support-bot", version: "v1" },
        sessionId: "s-1",
        userId: "alice",
        createdAt: "2025-04-01T09:00:00.000Z",
        trace: { provider: "langsmith", runId: "run-reset" },
        query: "How do I reset my password?",
        response: "Open Settings, then Security, then Reset password.",
      },
    ],
    [
      "ix-billing",
      {
        model: { id: "support-bot", version: "v1" },
        sessionId: "s-1",
        userId: "alice",
        createdAt: "2025-04-01T10:00:00.000Z",
        query: "Where can I change my billing address?",
        response: "Billing settings hold your address.",
      },
    ],
    [
      "ix-export",
      {
        model: { id: "support-bot", version: "v2" },
        sessionId: "s-2",
        userId: "bob",
        createdAt: "2025-04-02T09:00:00.000Z",
        query: "How can I export my invoices?",
        response: "Use the export button on the invoices page.",
      },
    ],
    [
      "ix-refund",
      {
        model: { id: "support-bot", version: "v2" },
        sessionId: "s-2",
        userId: "bob",
        createdAt: "2025-04-02T11:00:00.000Z",
        query: "Can I get a refund for last month?",
        response: "Refunds are possible within 30 days.",
      },
    ],
    [
      "ix-delete",
      {
        model: { id: "search-bot", version: "v1" },
        sessionId: "s-3",
        userId: "carol",
        createdAt: "2025-04-03T09:00:00.000Z",
        query: "Delete my account",
        response: "Account deletion is under Privacy.",
      },
    ],
    [
      "ix-quiet",
      {
        model: { id: "search-bot", version: "v1" },
        sessionId: "s-3",
        userId: "carol",
        createdAt: "2025-04-03T12:00:00.000Z",
        query: null,
        messages: [
          { role: "system", content: "You are a cheerful assistant." },
          { role: "user", content: "What is the weather?" },
        ],
        response: "I cannot tell the weather.",
      },
    ],
    [
      "ix-anonymous",
      {
        model: { id: "support-bot", version: "v2" },
        sessionId: null,
        userId: null,
        createdAt: "2025-04-04T08:00:00.000Z",
        query: "Translate hello to French",
        response: "Bonjour.",
      },
    ],
  ];

  /** Feedback in submission order; `fb-reset-thumbs-old` is superseded by `fb-reset-thumbs`. */
  const feedback: Array<
    [label: string, kind: keyof typeof SUBMIT, input: Record<string, unknown>]
  > = [
    [
      "fb-reset-thumbs-old",
      "BINARY",
      {
        on: "ix-reset",
        positive: false,
        category: "ACCURACY",
        createdAt: "2025-04-01T09:05:00.000Z",
      },
    ],
    [
      "fb-reset-thumbs",
      "BINARY",
      { on: "ix-reset", positive: true, createdAt: "2025-04-01T09:10:00.000Z" },
    ],
    [
      "fb-reset-rating",
      "RATING",
      { on: "ix-reset", score: 5, createdAt: "2025-04-01T09:12:00.000Z" },
    ],
    [
      "fb-reset-toxicity",
      "RATING",
      {
        on: "ix-reset",
        key: "toxicity",
        score: 2,
        source: "EXPERT",
        annotatorId: "ann-1",
        createdAt: "2025-04-01T09:20:00.000Z",
      },
    ],
    [
      "fb-billing-correction",
      "CORRECTION",
      {
        on: "ix-billing",
        correctedResponse: "Go to Settings, Billing, Address to change it.",
        category: "ACCURACY",
        createdAt: "2025-04-01T10:30:00.000Z",
      },
    ],
    [
      "fb-billing-flag",
      "FLAG",
      {
        on: "ix-billing",
        category: "SAFETY",
        source: "RULE",
        annotatorId: "pii-rule",
        reason: "mentions an address",
        createdAt: "2025-04-01T10:31:00.000Z",
      },
    ],
    [
      "fb-export-rating",
      "RATING",
      { on: "ix-export", score: 2, category: "FORMAT", createdAt: "2025-04-02T09:30:00.000Z" },
    ],
    [
      "fb-export-judge",
      "RATING",
      {
        on: "ix-export",
        key: "helpfulness",
        score: 4,
        source: "LLM_JUDGE",
        annotatorId: "judge-1",
        createdAt: "2025-04-02T09:40:00.000Z",
      },
    ],
    [
      "fb-export-comment",
      "COMMENT",
      {
        on: "ix-export",
        text: "The export works nicely",
        sentiment: "POSITIVE",
        category: "FEATURE_REQUEST",
        createdAt: "2025-04-02T09:45:00.000Z",
      },
    ],
    [
      "fb-refund-flag",
      "FLAG",
      {
        on: "ix-refund",
        category: "ACCURACY",
        reason: "wrong refund window",
        createdAt: "2025-04-02T11:30:00.000Z",
      },
    ],
    [
      "fb-refund-thumbs",
      "BINARY",
      {
        on: "ix-refund",
        positive: false,
        userId: "dave",
        comment: "The refund policy answer is outdated",
        category: "KNOWLEDGE_GAP",
        createdAt: "2025-04-02T12:00:00.000Z",
      },
    ],
    [
      "fb-delete-copy",
      "IMPLICIT",
      { on: "ix-delete", signal: "COPY", createdAt: "2025-04-03T09:10:00.000Z" },
    ],
    [
      "fb-delete-flag",
      "FLAG",
      { on: "ix-delete", category: "OTHER", createdAt: "2025-04-03T09:20:00.000Z" },
    ],
    [
      "fb-compare",
      "COMPARISON",
      {
        a: "ix-export",
        b: "ix-reset",
        preferred: "A",
        source: "EXPERT",
        annotatorId: "ann-2",
        reason: "a more complete answer",
        createdAt: "2025-04-03T15:00:00.000Z",
      },
    ],
    [
      "fb-anon-cross",
      "BINARY",
      {
        on: "ix-anonymous",
        positive: true,
        source: "CROSS_MODEL",
        annotatorId: "model-b",
        createdAt: "2025-04-04T08:30:00.000Z",
      },
    ],
    [
      "fb-anon-dwell",
      "IMPLICIT",
      { on: "ix-anonymous", signal: "DWELL", value: 1200, createdAt: "2025-04-04T08:40:00.000Z" },
    ],
  ];

  const ACTIVE_FEEDBACK = feedback
    .map(([label]) => label)
    .filter((label) => label !== "fb-reset-thumbs-old");
  const ALL_INTERACTIONS = interactions.map(([label]) => label);

  beforeAll(async () => {
    const define = await ok(
      testApp.gql<{ defineFeedbackKey: { __typename: string } }>(
        `mutation { defineFeedbackKey(input: { key: "toxicity", kind: RATING, rating: { min: 0, max: 10 }, isLowerScoreBetter: true }) { __typename } }`,
      ),
    );
    expect(define.defineFeedbackKey.__typename).toBe("FeedbackKeyConfig");
    for (const [label, input] of interactions) {
      const { id } = await recordInteraction(testApp, { ...input, idempotencyKey: label });
      ids[label] = id;
      times[label] = input.createdAt as string;
    }
    for (const [label, kind, { on, a, b, ...input }] of feedback) {
      const result = await submit(testApp, kind, {
        ...input,
        ...(on ? { interactionId: ids[on as string] } : {}),
        ...(a
          ? { a: { interactionId: ids[a as string] }, b: { interactionId: ids[b as string] } }
          : {}),
        idempotencyKey: label,
      });
      times[label] = input.createdAt as string;
      if (label === "fb-refund-thumbs" && result.userId) users.dave = result.userId;
    }
    const all = await list.interactions({ first: 50 });
    for (const { node } of all.edges) {
      if (node.idempotencyKey === "ix-reset" && node.userId) users.alice = node.userId;
      if (node.idempotencyKey === "ix-export" && node.userId) users.bob = node.userId;
    }
  }, 60_000);

  /** The labels in the order a listing must return them: newest first. */
  const ordered = (labels: readonly string[]) =>
    [...labels].sort(
      (left, right) => Date.parse(times[right] ?? "") - Date.parse(times[left] ?? ""),
    );

  async function expectInteractions(filter: Record<string, unknown>, labels: readonly string[]) {
    const page = await list.interactions({ filter, first: 50 });
    expect(page.edges.map((edge) => edge.node.idempotencyKey)).toEqual(ordered(labels));
    expect(page.totalCount).toBe(labels.length);
  }

  async function expectFeedback(filter: Record<string, unknown>, labels: readonly string[]) {
    const page = await list.feedback({ filter, first: 50 });
    expect(page.edges.map((edge) => edge.node.idempotencyKey)).toEqual(ordered(labels));
    expect(page.totalCount).toBe(labels.length);
  }

  const except = (labels: readonly string[], excluded: readonly string[]) =>
    labels.filter((label) => !excluded.includes(label));

  describe("InteractionFilter", () => {
    it("returns everything without a filter", async () => {
      await expectInteractions({}, ALL_INTERACTIONS);
    });

    it("filters by a half-open time range (from inclusive, to exclusive)", async () => {
      await expectInteractions(
        { createdAt: { from: "2025-04-02T09:00:00Z", to: "2025-04-03T09:00:00Z" } },
        ["ix-export", "ix-refund"],
      );
      await expectInteractions({ createdAt: { from: "2025-04-03T09:00:00Z" } }, [
        "ix-delete",
        "ix-quiet",
        "ix-anonymous",
      ]);
      await expectInteractions({ createdAt: { to: "2025-04-01T10:00:00Z" } }, ["ix-reset"]);
    });

    it("filters by model id and version", async () => {
      await expectInteractions(
        { modelId: "support-bot" },
        except(ALL_INTERACTIONS, ["ix-delete", "ix-quiet"]),
      );
      await expectInteractions({ modelVersion: "v1" }, [
        "ix-reset",
        "ix-billing",
        "ix-delete",
        "ix-quiet",
      ]);
      await expectInteractions({ modelId: "support-bot", modelVersion: "v1" }, [
        "ix-reset",
        "ix-billing",
      ]);
      await expectInteractions({ modelId: "nobody" }, []);
    });

    it("filters by session, by trace run and by the pseudonymous user id shown in results", async () => {
      await expectInteractions({ sessionId: "s-2" }, ["ix-export", "ix-refund"]);
      await expectInteractions({ traceRunId: "run-reset" }, ["ix-reset"]);
      expect(users.alice).toMatch(/^u_[0-9a-f]{32}$/);
      await expectInteractions({ userId: users.alice }, ["ix-reset", "ix-billing"]);
      await expectInteractions({ userId: users.bob }, ["ix-export", "ix-refund"]);
      // The raw product id is never stored, so it finds nothing.
      await expectInteractions({ userId: "alice" }, []);
    });

    it("filters by correction and flag state", async () => {
      await expectInteractions({ hasCorrection: true }, ["ix-billing"]);
      await expectInteractions({ hasCorrection: false }, except(ALL_INTERACTIONS, ["ix-billing"]));
      await expectInteractions({ flagged: true }, ["ix-billing", "ix-refund", "ix-delete"]);
      await expectInteractions({ flagged: false }, [
        "ix-reset",
        "ix-export",
        "ix-quiet",
        "ix-anonymous",
      ]);
      await expectInteractions({ flagged: true, hasCorrection: false }, ["ix-refund", "ix-delete"]);
    });

    it("searches whole words in the query, the response and chat messages", async () => {
      await expectInteractions({ search: "refund" }, ["ix-refund"]);
      await expectInteractions({ search: "settings" }, ["ix-reset", "ix-billing"]);
      await expectInteractions({ search: "PASSWORD" }, ["ix-reset"]);
      await expectInteractions({ search: "cheerful" }, ["ix-quiet"]);
      await expectInteractions({ search: '"billing address"' }, ["ix-billing"]);
      await expectInteractions({ search: "settings -billing" }, ["ix-reset"]);
      await expectInteractions({ search: "refund invoices" }, ["ix-export", "ix-refund"]);
      await expectInteractions({ search: "   " }, ALL_INTERACTIONS);
    });

    it("combines filters (all must hold) and pages through a search", async () => {
      await expectInteractions(
        { modelId: "support-bot", flagged: true, createdAt: { from: "2025-04-02T00:00:00Z" } },
        ["ix-refund"],
      );
      await expectInteractions({ sessionId: "s-1", search: "password" }, ["ix-reset"]);
      const filter = { search: "settings" };
      const first = await list.interactions({ filter, first: 1 });
      expect(first.edges.map((edge) => edge.node.idempotencyKey)).toEqual(["ix-billing"]);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = await list.interactions({
        filter,
        first: 1,
        after: first.pageInfo.endCursor ?? "",
      });
      expect(second.edges.map((edge) => edge.node.idempotencyKey)).toEqual(["ix-reset"]);
      expect(second.pageInfo.hasNextPage).toBe(false);
      const back = await list.interactions({
        filter,
        last: 1,
        before: second.pageInfo.startCursor ?? "",
      });
      expect(back.edges.map((edge) => edge.node.idempotencyKey)).toEqual(["ix-billing"]);
    });

    it("rejects an inverted time range and an oversized search, naming the field", async () => {
      const inverted = await testApp.gql(INTERACTIONS, {
        filter: { createdAt: { from: "2025-04-02T00:00:00Z", to: "2025-04-01T00:00:00Z" } },
      });
      expect(inverted.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
      expect(inverted.errors?.[0]?.message).toContain("filter.createdAt.to");
      const long = await testApp.gql(INTERACTIONS, { filter: { search: "x".repeat(501) } });
      expect(long.errors?.[0]?.message).toContain("filter.search");
    });
  });

  describe("FeedbackFilter", () => {
    it("returns the active feedback without a filter, and superseded feedback only when asked", async () => {
      await expectFeedback({}, ACTIVE_FEEDBACK);
      await expectFeedback(
        { includeSuperseded: true },
        feedback.map(([label]) => label),
      );
      const page = await list.feedback({
        filter: { includeSuperseded: true, keys: ["thumbs"] },
        first: 10,
      });
      expect(page.edges.map(({ node }) => [node.idempotencyKey, node.status])).toEqual([
        ["fb-anon-cross", "ACTIVE"],
        ["fb-refund-thumbs", "ACTIVE"],
        ["fb-reset-thumbs", "ACTIVE"],
        ["fb-reset-thumbs-old", "SUPERSEDED"],
      ]);
    });

    it("filters by a half-open time range", async () => {
      await expectFeedback(
        { createdAt: { from: "2025-04-02T09:40:00Z", to: "2025-04-02T12:00:00Z" } },
        ["fb-export-judge", "fb-export-comment", "fb-refund-flag"],
      );
      await expectFeedback({ createdAt: { from: "2025-04-04T00:00:00Z" } }, [
        "fb-anon-cross",
        "fb-anon-dwell",
      ]);
      await expectFeedback({ createdAt: { to: "2025-04-01T09:12:00Z" } }, ["fb-reset-thumbs"]);
    });

    it("filters by the judged interaction's model id and version (side A for comparisons)", async () => {
      await expectFeedback({ modelId: "search-bot" }, ["fb-delete-copy", "fb-delete-flag"]);
      const v2 = [
        "fb-export-rating",
        "fb-export-judge",
        "fb-export-comment",
        "fb-refund-flag",
        "fb-refund-thumbs",
        "fb-compare",
        "fb-anon-cross",
        "fb-anon-dwell",
      ];
      await expectFeedback({ modelVersion: "v2" }, v2);
      await expectFeedback({ modelId: "support-bot", modelVersion: "v2" }, v2);
      await expectFeedback({ modelId: "support-bot", modelVersion: "v1" }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-billing-correction",
        "fb-billing-flag",
      ]);
    });

    it("filters by interaction, including comparisons that show it on either side", async () => {
      await expectFeedback({ interactionId: ids["ix-reset"] }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-compare",
      ]);
      await expectFeedback({ interactionId: hexOf(ids["ix-reset"] ?? "") }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-compare",
      ]);
      await expectFeedback({ interactionId: ids["ix-reset"], includeSuperseded: true }, [
        "fb-reset-thumbs-old",
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-compare",
      ]);
      await expectFeedback({ interactionId: ids["ix-quiet"] }, []);
      const invalid = await testApp.gql(FEEDBACK, { filter: { interactionId: "nope" } });
      expect(invalid.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
      expect(invalid.errors?.[0]?.message).toContain("filter.interactionId");
    });

    it("filters by kinds and keys", async () => {
      await expectFeedback({ kinds: ["RATING"] }, [
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-export-rating",
        "fb-export-judge",
      ]);
      await expectFeedback({ kinds: ["FLAG", "IMPLICIT"] }, [
        "fb-billing-flag",
        "fb-refund-flag",
        "fb-delete-copy",
        "fb-delete-flag",
        "fb-anon-dwell",
      ]);
      await expectFeedback({ kinds: ["COMPARISON"] }, ["fb-compare"]);
      await expectFeedback({ keys: ["toxicity"] }, ["fb-reset-toxicity"]);
      await expectFeedback({ keys: ["thumbs", "helpfulness"] }, [
        "fb-reset-thumbs",
        "fb-export-judge",
        "fb-refund-thumbs",
        "fb-anon-cross",
      ]);
    });

    it("filters by derived sentiment (ratings on their key's scale)", async () => {
      await expectFeedback({ sentiments: ["POSITIVE"] }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity", // 2 of 0–10, lower is better
        "fb-export-judge",
        "fb-export-comment",
        "fb-delete-copy",
        "fb-anon-cross",
      ]);
      await expectFeedback({ sentiments: ["NEGATIVE"] }, [
        "fb-billing-correction",
        "fb-billing-flag",
        "fb-export-rating",
        "fb-refund-flag",
        "fb-refund-thumbs",
        "fb-delete-flag",
      ]);
      await expectFeedback({ sentiments: ["NEUTRAL"] }, ["fb-compare", "fb-anon-dwell"]);
      await expectFeedback({ sentiments: ["NEUTRAL", "POSITIVE", "NEGATIVE"] }, ACTIVE_FEEDBACK);
    });

    it("filters by a rating range on the key's own scale (bounds inclusive)", async () => {
      await expectFeedback({ ratingMin: 4 }, ["fb-reset-rating", "fb-export-judge"]);
      await expectFeedback({ ratingMax: 2 }, ["fb-reset-toxicity", "fb-export-rating"]);
      await expectFeedback({ ratingMin: 2, ratingMax: 4 }, [
        "fb-reset-toxicity",
        "fb-export-rating",
        "fb-export-judge",
      ]);
      await expectFeedback({ ratingMin: 4.5, ratingMax: 4.5 }, []);
    });

    it("filters by source and annotator", async () => {
      await expectFeedback({ sources: ["EXPERT"] }, ["fb-reset-toxicity", "fb-compare"]);
      await expectFeedback({ sources: ["RULE", "CROSS_MODEL"] }, [
        "fb-billing-flag",
        "fb-anon-cross",
      ]);
      await expectFeedback({ sources: ["LLM_JUDGE"] }, ["fb-export-judge"]);
      await expectFeedback(
        { sources: ["USER"] },
        except(ACTIVE_FEEDBACK, [
          "fb-reset-toxicity",
          "fb-compare",
          "fb-billing-flag",
          "fb-anon-cross",
          "fb-export-judge",
        ]),
      );
      await expectFeedback({ annotatorId: "ann-1" }, ["fb-reset-toxicity"]);
      await expectFeedback({ annotatorId: "judge-1" }, ["fb-export-judge"]);
    });

    it("filters by session and by the rater's pseudonymous user id", async () => {
      await expectFeedback({ sessionId: "s-1" }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-billing-correction",
        "fb-billing-flag",
      ]);
      await expectFeedback({ sessionId: "s-2" }, [
        "fb-export-rating",
        "fb-export-judge",
        "fb-export-comment",
        "fb-refund-flag",
        "fb-refund-thumbs",
        "fb-compare",
      ]);
      await expectFeedback({ userId: users.alice }, [
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-billing-correction",
      ]);
      await expectFeedback({ userId: users.bob }, [
        "fb-export-rating",
        "fb-export-comment",
        "fb-refund-flag",
      ]);
      // dave judged bob's answer: their own pseudonym, as returned on the feedback.
      expect(users.dave).toMatch(/^u_[0-9a-f]{32}$/);
      await expectFeedback({ userId: users.dave }, ["fb-refund-thumbs"]);
      await expectFeedback({ userId: "alice" }, []);
    });

    it("filters by correction and flag state", async () => {
      await expectFeedback({ hasCorrection: true }, ["fb-billing-correction"]);
      await expectFeedback(
        { hasCorrection: false },
        except(ACTIVE_FEEDBACK, ["fb-billing-correction"]),
      );
      await expectFeedback({ flagged: true }, [
        "fb-billing-flag",
        "fb-refund-flag",
        "fb-delete-flag",
      ]);
      await expectFeedback(
        { flagged: false },
        except(ACTIVE_FEEDBACK, ["fb-billing-flag", "fb-refund-flag", "fb-delete-flag"]),
      );
      await expectFeedback(
        { flagged: false, hasCorrection: false, modelId: "support-bot", modelVersion: "v1" },
        ["fb-reset-thumbs", "fb-reset-rating", "fb-reset-toxicity"],
      );
    });

    it("narrows kinds with hasCorrection and flagged instead of widening them", async () => {
      // "All given conditions must hold": only corrections AND only binary feedback is nothing.
      await expectFeedback({ kinds: ["BINARY"], hasCorrection: true }, []);
      await expectFeedback({ kinds: ["BINARY", "CORRECTION"], hasCorrection: true }, [
        "fb-billing-correction",
      ]);
      await expectFeedback({ kinds: ["FLAG", "RATING"], flagged: true }, [
        "fb-billing-flag",
        "fb-refund-flag",
        "fb-delete-flag",
      ]);
      await expectFeedback({ hasCorrection: true, flagged: true }, []);
      await expectFeedback({ kinds: ["FLAG", "CORRECTION"], flagged: false }, [
        "fb-billing-correction",
      ]);
    });

    it("filters by failure category and flag category", async () => {
      await expectFeedback({ categories: ["ACCURACY"] }, [
        "fb-billing-correction",
        "fb-refund-flag",
      ]);
      await expectFeedback({ categories: ["SAFETY"] }, ["fb-billing-flag"]);
      await expectFeedback({ categories: ["FORMAT", "KNOWLEDGE_GAP", "FEATURE_REQUEST"] }, [
        "fb-export-rating",
        "fb-export-comment",
        "fb-refund-thumbs",
      ]);
      await expectFeedback({ categories: ["RELEVANCE"] }, []);
      await expectFeedback({ flagCategories: ["SAFETY"] }, ["fb-billing-flag"]);
      await expectFeedback({ flagCategories: ["ACCURACY", "OTHER"] }, [
        "fb-refund-flag",
        "fb-delete-flag",
      ]);
    });

    it("searches the feedback's own text and its interaction's query and response", async () => {
      await expectFeedback({ search: "outdated" }, ["fb-refund-thumbs"]); // a comment on a thumbs down
      await expectFeedback({ search: "nicely" }, ["fb-export-comment"]); // a comment's text
      await expectFeedback({ search: "complete" }, ["fb-compare"]); // a comparison's reason
      await expectFeedback({ search: "window" }, ["fb-refund-flag"]); // a flag's reason
      // "address": the correction, the flag's reason and the billing question itself.
      await expectFeedback({ search: "address" }, ["fb-billing-correction", "fb-billing-flag"]);
      // "invoices" is only in the export interaction, which the comparison shows as side A.
      await expectFeedback({ search: "invoices" }, [
        "fb-export-rating",
        "fb-export-judge",
        "fb-export-comment",
        "fb-compare",
      ]);
      await expectFeedback({ search: "refund" }, ["fb-refund-flag", "fb-refund-thumbs"]);
      await expectFeedback({ search: "weather" }, []);
      await expectFeedback({ search: "invoices", kinds: ["RATING"], sources: ["USER"] }, [
        "fb-export-rating",
      ]);
      await expectFeedback({ search: "password", includeSuperseded: true, keys: ["thumbs"] }, [
        "fb-reset-thumbs-old",
        "fb-reset-thumbs",
      ]);
    });

    it("combines filters (all must hold) and pages through the result", async () => {
      await expectFeedback({ kinds: ["RATING"], sources: ["USER"], ratingMax: 3 }, [
        "fb-export-rating",
      ]);
      await expectFeedback(
        {
          sentiments: ["NEGATIVE"],
          modelVersion: "v2",
          createdAt: { from: "2025-04-02T11:00:00Z" },
        },
        ["fb-refund-flag", "fb-refund-thumbs"],
      );
      const filter = { sentiments: ["POSITIVE"] };
      const expected = ordered([
        "fb-reset-thumbs",
        "fb-reset-rating",
        "fb-reset-toxicity",
        "fb-export-judge",
        "fb-export-comment",
        "fb-delete-copy",
        "fb-anon-cross",
      ]);
      const forwards = await walkForwards((args) => list.feedback({ ...args, filter }), 3);
      expect(forwards.nodes.map((node) => node.idempotencyKey)).toEqual(expected);
      expectConsistentPages(forwards.pages, expected.length);
      const searched = await walkBackwards(
        (args) => list.feedback({ ...args, filter: { search: "invoices" } }),
        3,
      );
      expect(searched.nodes.map((node) => node.idempotencyKey)).toEqual(
        ordered(["fb-export-rating", "fb-export-judge", "fb-export-comment", "fb-compare"]),
      );
      expectConsistentPages(searched.pages, 4);
    });

    it("rejects an inverted time range, naming the field", async () => {
      const result = await testApp.gql(FEEDBACK, {
        filter: { createdAt: { from: "2025-04-02T00:00:00Z", to: "2025-04-02T00:00:00Z" } },
      });
      expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
      expect(result.errors?.[0]?.message).toContain("filter.createdAt.to");
    });
  });
});
