import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    mongoUri: string;
    /** True when the suite runs against the embedded store rather than TEST_MONGODB_URI. */
    embedded: boolean;
  }
}

// One store for the whole run: starting a server per file would dominate the run time.
export default async function setup(project: TestProject) {
  const external = process.env.TEST_MONGODB_URI;
  if (external) {
    project.provide("mongoUri", external);
    project.provide("embedded", false);
    return;
  }
  const dbPath = await mkdtemp(join(tmpdir(), "loopgate-test-store-"));
  const store = await startEmbeddedMongo({ port: 0, dbPath });
  project.provide("mongoUri", store.uri);
  project.provide("embedded", true);
  return async () => {
    await store.close();
    await rm(dbPath, { recursive: true, force: true });
  };
}
