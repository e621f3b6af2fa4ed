import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { BUILD_JOB } from "../../src/datasets/snapshots.js";
import type { DatasetSnapshotDoc } from "../../src/store/dataset-docs.js";
import { useTestApp } from "../support/app.js";
import { generateDatasetCorpus } from "../support/dataset-corpus.js";
import { waitUntil } from "../support/poll.js";
import { REPO_ROOT } from "../support/process.js";
import { download } from "./support.js";

const run = promisify(execFile);
const testApp = useTestApp();
const corpus = generateDatasetCorpus(8_000, { seed: 11 });

/** Builds a snapshot the way the job does (the service's build), without waiting on a worker. */
async function built(input: Record<string, unknown>): Promise<DatasetSnapshotDoc> {
  const { snapshot } = await testApp.services.datasets.create(input as never, systemActor("test"));
  return testApp.services.datasets.build(snapshot._id);
}

describe("dataset exports of a larger corpus", () => {
  beforeAll(async () => {
    const { interactions, feedback } = testApp.store.collections;
    await interactions.insertMany(corpus.interactions);
    await feedback.insertMany(corpus.feedback);
  }, 120_000);

  it("leaves out filtered, duplicate and low-quality feedback, and counts why", async () => {
    const feedbackCollection = testApp.store.collections.feedback;
    const original = corpus.feedback.find(
      (doc) => doc.kind === "binary" && !doc.pipeline?.filtered,
    )!;
    const duplicate = corpus.feedback.find(
      (doc) =>
        doc.kind === "binary" && doc._id !== original._id && doc.pipeline && !doc.pipeline.filtered,
    )!;
    await feedbackCollection.updateOne(
      { _id: duplicate._id },
      { $set: { "pipeline.duplicateOf": original._id } },
    );
    const snapshot = await built({ kind: "kto", filter: { minQuality: 0.5 } });
    const binaryOrRating = corpus.feedback.filter(
      (doc) => doc.kind === "binary" || doc.kind === "rating",
    );
    const unusable = binaryOrRating.filter(
      (doc) => doc.pipeline?.filtered || doc._id.equals(duplicate._id),
    ).length;
    const lowQuality = binaryOrRating.filter(
      (doc) =>
        !doc.pipeline?.filtered &&
        !doc._id.equals(duplicate._id) &&
        (doc.pipeline?.quality ?? -1) < 0.5,
    ).length;
    expect(snapshot.counts!.feedbackRead).toBe(binaryOrRating.length);
    expect(snapshot.counts!.excluded.unusable).toBe(unusable);
    expect(snapshot.counts!.excluded.lowQuality).toBe(lowQuality);
    // No row was built from feedback that was left out.
    const provenance = await (
      await download(testApp, `/datasets/${snapshot._id}/provenance.jsonl`)
    ).text();
    const used = new Set(
      provenance
        .trim()
        .split("\n")
        .flatMap((line) => JSON.parse(line).feedback_ids as string[]),
    );
    expect(used.size).toBe(snapshot.counts!.feedbackUsed);
    for (const doc of binaryOrRating) {
      const excluded =
        doc.pipeline?.filtered ||
        doc._id.equals(duplicate._id) ||
        (doc.pipeline?.quality ?? -1) < 0.5;
      if (excluded) expect(used.has(doc._id.toHexString())).toBe(false);
    }
  });

  it("streams more rows than one page over HTTP in order, matching the stored checksum", async () => {
    const snapshot = await built({ kind: "dpo", evalFraction: 0.1, seed: 3 });
    // More than one page (1,000 rows) of the keyset-paged read.
    expect(snapshot.counts!.train).toBeGreaterThan(1_000);
    const response = await download(testApp, `/datasets/${snapshot._id}/train.jsonl`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-loopgate-rows")).toBe(String(snapshot.counts!.train));
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    // Delivered as a stream of chunks, not one buffered body.
    expect(chunks.length).toBeGreaterThan(3);
    const bytes = Buffer.concat(chunks);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(snapshot.sha256!.train);
    const lines = bytes.toString("utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(snapshot.counts!.train);
    for (const line of lines)
      expect(Object.keys(JSON.parse(line))).toEqual(["prompt", "chosen", "rejected"]);
    const provenance = (
      await (await download(testApp, `/datasets/${snapshot._id}/provenance.jsonl`)).text()
    )
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(provenance).toHaveLength(snapshot.counts!.train + snapshot.counts!.eval);
    expect(provenance.slice(0, snapshot.counts!.train).map((row) => row.ordinal)).toEqual(
      Array.from({ length: snapshot.counts!.train }, (_, i) => i),
    );
  });

  it("writes the same bytes from the CLI as over HTTP, with a progress bar on stderr", async () => {
    const snapshot = await built({ kind: "sft", evalFraction: 0.1 });
    const dir = await mkdtemp(join(tmpdir(), "loopgate-export-"));
    try {
      const out = join(dir, "train.jsonl");
      const { stderr } = await run(
        process.execPath,
        [
          "--import",
          "tsx",
          "src/cli/dataset-export.ts",
          "--snapshot",
          snapshot._id.toHexString(),
          "--split",
          "train",
          "--out",
          out,
          "--mongodb-uri",
          testApp.config.mongodbUri!,
          "--db",
          testApp.config.mongodbDb,
        ],
        { cwd: REPO_ROOT },
      );
      expect(stderr).toContain(`100% ${snapshot.counts!.train}/${snapshot.counts!.train} rows`);
      const fromCli = await readFile(out);
      const overHttp = Buffer.from(
        await (await download(testApp, `/datasets/${snapshot._id}/train.jsonl`)).arrayBuffer(),
      );
      expect(fromCli.length).toBeGreaterThan(0);
      expect(fromCli.equals(overHttp)).toBe(true);
      const refused = await run(
        process.execPath,
        ["--import", "tsx", "src/cli/dataset-export.ts", "--split", "train"],
        { cwd: REPO_ROOT },
      ).catch((error: { code: number; stderr: string }) => error);
      expect((refused as { code: number }).code).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("leaves a snapshot FAILED, with the error, when its build job gives up", async () => {
    const { snapshot } = await testApp.services.datasets.create(
      { kind: "negatives" },
      systemActor("test"),
    );
    // A snapshot whose stored kind no build knows (as a document from a newer version could be).
    await testApp.store.collections.datasetSnapshots.updateOne(
      { _id: snapshot._id },
      { $set: { kind: "future_kind" as never } },
    );
    await testApp.services.jobs.enqueue(
      BUILD_JOB,
      { snapshotId: snapshot._id.toHexString() },
      { key: `retry-once:${snapshot._id}`, maxAttempts: 1 },
    );
    testApp.worker!.start();
    try {
      await waitUntil(
        async () => (await testApp.services.datasets.get(snapshot._id))?.state === "failed",
        { timeoutMs: 30_000, intervalMs: 100, what: "the snapshot to fail" },
      );
    } finally {
      await testApp.worker!.stop(5_000);
    }
    const failed = await testApp.services.datasets.get(snapshot._id);
    expect(failed?.error).toBeTruthy();
    expect((await download(testApp, `/datasets/${snapshot._id}/train.jsonl`)).status).toBe(409);
  });

  it("refuses to export a snapshot that is still building", async () => {
    const { snapshot } = await testApp.services.datasets.create(
      { kind: "negatives" },
      systemActor("test"),
    );
    const response = await download(testApp, `/datasets/${snapshot._id}/train.jsonl`);
    expect(response.status).toBe(409);
  });
});
