import { expect } from "vitest";
import {
  type FeedbackKindName,
  recordInteraction,
  SUBMIT_MUTATIONS,
  type TestApp,
} from "../support/app.js";
import { waitUntil } from "../support/poll.js";

/** Submits one feedback through its real mutation; returns the feedback's id. */
export async function submit(
  testApp: TestApp,
  kind: FeedbackKindName,
  input: Record<string, unknown>,
): Promise<string> {
  const [field, type] = SUBMIT_MUTATIONS[kind];
  const result = await testApp.gql(
    `mutation($input: ${type}!) { ${field}(input: $input) {
      __typename ... on SubmitFeedbackPayload { feedback { id } } ... on Error { message }
    } }`,
    { input },
  );
  const payload = result.data?.[field];
  if (payload?.__typename !== "SubmitFeedbackPayload") {
    throw new Error(`${field} failed: ${JSON.stringify(result)}`);
  }
  return payload.feedback.id;
}

/** Records an interaction and returns its id. */
export async function interaction(
  testApp: TestApp,
  query: string,
  response: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  return (await recordInteraction(testApp, { query, response, ...extra })).id;
}

export const SNAPSHOT_FIELDS = `
  id kind version state filterId trainSha256 evalSha256 heldOutKeys heldOutBatches error
  filter { until }
  counts {
    train eval feedbackRead feedbackUsed
    bySource { split source rows }
    excluded { ambiguous lowAgreement lowQuality unusable alreadyUsed balanced incomplete }
  }
  downloads { train eval provenance }
`;

/** Creates a snapshot through GraphQL and waits for its build job to make it READY. */
export async function buildSnapshot(
  testApp: TestApp,
  input: Record<string, unknown>,
): Promise<Record<string, any>> {
  const created = await testApp.gql(
    `mutation($input: CreateDatasetSnapshotInput!) { createDatasetSnapshot(input: $input) {
      __typename
      ... on CreateDatasetSnapshotPayload { snapshot { id state } }
      ... on ValidationError { message fields { path message } }
    } }`,
    { input },
  );
  const payload = created.data?.createDatasetSnapshot;
  if (payload?.__typename !== "CreateDatasetSnapshotPayload") {
    throw new Error(`createDatasetSnapshot failed: ${JSON.stringify(created)}`);
  }
  expect(payload.snapshot.state).toBe("BUILDING");
  const id = payload.snapshot.id as string;
  let snapshot: Record<string, any> = {};
  await waitUntil(
    async () => {
      const read = await testApp.gql(
        `query($id: ID!) { datasetSnapshot(id: $id) { ${SNAPSHOT_FIELDS} } }`,
        { id },
      );
      snapshot = read.data?.datasetSnapshot ?? {};
      if (snapshot.state === "FAILED") throw new Error(`build failed: ${snapshot.error}`);
      return snapshot.state === "READY";
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `snapshot ${id} to be ready` },
  );
  return snapshot;
}

/** Downloads one file of a snapshot over HTTP (in-process), as text. */
export async function download(
  testApp: TestApp,
  path: string,
  credential: string | null = testApp.adminKey,
): Promise<Response> {
  return testApp.app.fetch(`http://localhost${path}`, {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
}

export async function rowsOf(testApp: TestApp, snapshot: Record<string, any>) {
  const text = async (path: string) => await (await download(testApp, path)).text();
  const train = await text(snapshot.downloads.train);
  const evaluation = await text(snapshot.downloads.eval);
  const parse = (body: string) =>
    body === ""
      ? []
      : body
          .replace(/\n$/, "")
          .split("\n")
          .map((line) => JSON.parse(line));
  return { train, eval: evaluation, rows: [...parse(train), ...parse(evaluation)] };
}
