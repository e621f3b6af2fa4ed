/**
 * The in-process app as the webhook-receiving sync tests run it (worker on, deliveries forwarded
 * to it over loopback HTTP), and what every webhook endpoint must refuse.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { type TestApp, useTestApp } from "../support/app.js";
import { type Forwarder, startForwarder } from "./sync-support.js";

export interface SyncTestApp {
  readonly testApp: TestApp;
  /** The loopback server the fake's webhooks are sent to; set once the first beforeAll ran. */
  readonly forwarder: Forwarder;
}

/**
 * The in-process app for a webhook-receiving sync test: a forwarder is started and passed to
 * `start`, which starts the fake and fills `env` before the app is built from it; the worker runs
 * and the forwarder passes deliveries to the app. afterAll stops the worker and closes the fake
 * and the forwarder.
 */
export function useSyncTestApp(
  env: Record<string, string>,
  start: (forwarder: Forwarder) => Promise<{ close(): Promise<void> }>,
): SyncTestApp {
  let forwarder: Forwarder | undefined;
  let fake: { close(): Promise<void> } | undefined;
  beforeAll(async () => {
    forwarder = await startForwarder();
    fake = await start(forwarder);
  });
  const testApp = useTestApp({ env });
  beforeAll(() => {
    forwarder!.target = testApp.app;
    testApp.worker?.start();
  });
  afterAll(async () => {
    await testApp.worker?.stop(5_000);
    await fake?.close();
    await forwarder?.close();
  });
  return {
    testApp,
    get forwarder() {
      if (!forwarder) throw new Error("the forwarder starts in beforeAll");
      return forwarder;
    },
  };
}

/**
 * A webhook endpoint answers 405 to another method and 413 to a delivery over 1 MiB, and queues
 * nothing for either.
 */
export async function expectWebhookRefusesMethodAndSize(testApp: TestApp, url: string) {
  const before = await testApp.store.collections.jobs.countDocuments({});
  const get = await testApp.app.fetch(url, { method: "GET" });
  expect(get.status).toBe(405);
  const big = await testApp.app.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ padding: "x".repeat(1024 * 1024) }),
  });
  expect(big.status).toBe(413);
  expect(await big.json()).toEqual({ error: "Deliveries are limited to 1048576 bytes." });
  expect(await testApp.store.collections.jobs.countDocuments({})).toBe(before);
}
