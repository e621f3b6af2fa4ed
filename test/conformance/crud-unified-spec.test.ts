import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, inject, it } from "vitest";
import { driverDeviation, parseFile, runUnifiedTest, unmetRequirement } from "./unified-runner.js";

/**
 * MongoDB's unified-format CRUD specification tests, run through the official driver against
 * the store under test. The JSON files are not part of this repository: point CRUD_SPEC_DIR at
 * a checkout's `source/crud/tests/unified/` to run them; without it this file is skipped.
 */
const dir = process.env.CRUD_SPEC_DIR;
const only = process.env.CRUD_SPEC_FILTER;

const files = dir
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".json") && (!only || f.includes(only)))
      .sort()
  : [];

describe.skipIf(!dir)("MongoDB CRUD unified specification tests", () => {
  for (const name of files) {
    const file = parseFile(readFileSync(join(dir!, name), "utf8"));
    const fileUnmet = unmetRequirement(file.runOnRequirements);
    describe(name, () => {
      for (const test of file.tests) {
        const unmet =
          fileUnmet ??
          test.skipReason ??
          unmetRequirement(test.runOnRequirements) ??
          driverDeviation(name, test);
        it.skipIf(unmet !== undefined)(test.description, async () => {
          await runUnifiedTest(inject("mongoUri"), file, test);
        });
      }
    });
  }
});
