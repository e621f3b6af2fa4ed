import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import {
  CircuitOpenError,
  createHttpClient,
  type HttpClientOptions,
  type HttpMetricsHook,
  HttpNetworkError,
  HttpStatusError,
  HttpTimeoutError,
  parseRetryAfter,
} from "../../src/integrations/http.js";
import { type FakeServer, startFakeServer } from "../fakes/server.js";

let server: FakeServer;
let handled = 0;

beforeAll(async () => {
  server = await startFakeServer({
    errorBody: (status, message) => ({ status, message }),
    handle: (request) => {
      handled += 1;
      if (request.path === "/bad") return { status: 422, body: { detail: "nope" } };
      if (request.path === "/text") return { status: 500, body: "plain failure" };
      return { status: 200, body: { ok: true, method: request.method } };
    },
  });
});
afterAll(() => server.close());
afterEach(() => {
  server.clearFaults();
  server.requests.length = 0;
});

function recordingSleep() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

function client(overrides: Partial<HttpClientOptions> = {}) {
  return createHttpClient({ integration: "test", baseUrl: server.url, ...overrides });
}

describe("retries", () => {
  it("retries an idempotent request on 502/503/504 and succeeds", async () => {
    const { sleeps, sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 503 }, times: 1 });
    server.inject({ fault: { kind: "status", status: 502 }, times: 1 });
    server.inject({ fault: { kind: "status", status: 504 }, times: 1 });
    const response = await client({ sleep, retry: { maxAttempts: 4 } }).request({
      method: "GET",
      path: "/x",
    });
    expect(response.body).toEqual({ ok: true, method: "GET" });
    expect(server.requests.map((r) => r.status)).toEqual([503, 502, 504, 200]);
    expect(sleeps).toHaveLength(3);
  });

  it("keeps jittered delays within [0, min(max, base·2^n)) and varies them", async () => {
    const seen = new Set<number>();
    for (let run = 0; run < 20; run++) {
      const { sleeps, sleep } = recordingSleep();
      server.inject({ fault: { kind: "status", status: 503 }, times: 5 });
      await client({
        sleep,
        retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 400 },
        breaker: { consecutiveFailures: 10 },
      }).request({
        method: "GET",
        path: "/x",
      });
      expect(sleeps).toHaveLength(5);
      sleeps.forEach((ms, n) => {
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(Math.min(400, 100 * 2 ** n));
        seen.add(ms);
      });
    }
    // Full jitter: not one fixed schedule.
    expect(seen.size).toBeGreaterThan(10);
  });

  it("gives up after maxAttempts with the last status and body", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 503, body: { detail: "down" } }, times: 5 });
    const error = await client({ sleep, retry: { maxAttempts: 3 } })
      .request({ method: "GET", path: "/x" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(503);
    expect((error as HttpStatusError).body).toEqual({ detail: "down" });
    expect(server.requests).toHaveLength(3);
  });

  it("does not retry a non-idempotent POST after a 5xx, but does after a 429", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 503 }, times: 1 });
    await expect(
      client({ sleep }).request({ method: "POST", path: "/x", json: {} }),
    ).rejects.toMatchObject({
      status: 503,
    });
    expect(server.requests).toHaveLength(1);
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "0" }, times: 1 });
    const ok = await client({ sleep }).request({ method: "POST", path: "/x", json: {} });
    expect(ok.status).toBe(200);
    expect(server.requests).toHaveLength(3);
  });

  it("retries a POST marked idempotent", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 502 }, times: 1 });
    const ok = await client({ sleep }).request({
      method: "POST",
      path: "/x",
      json: {},
      idempotent: true,
    });
    expect(ok.status).toBe(200);
    expect(server.requests).toHaveLength(2);
  });

  it("never retries a 4xx and exposes the parsed body", async () => {
    const error = (await client()
      .request({ method: "GET", path: "/bad" })
      .catch((e: unknown) => e)) as HttpStatusError;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.status).toBe(422);
    expect(error.body).toEqual({ detail: "nope" });
    expect(error.transient).toBe(false);
    expect(server.requests).toHaveLength(1);
  });
});

describe("Retry-After", () => {
  it("parses delta-seconds and HTTP-dates", () => {
    const now = new Date("2026-11-27T12:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Fri, 27 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Fri, 27 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("waits exactly Retry-After (seconds) instead of the backoff", async () => {
    const { sleeps, sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "2" }, times: 1 });
    await client({ sleep }).request({ method: "GET", path: "/x" });
    expect(sleeps).toEqual([2000]);
  });

  it("waits until an HTTP-date Retry-After, using the injected clock", async () => {
    const clock = createManualClock(new Date("2026-11-27T12:00:00Z"));
    const { sleeps, sleep } = recordingSleep();
    server.inject({
      fault: { kind: "status", status: 503, retryAfter: "Fri, 27 Nov 2026 12:00:03 GMT" },
      times: 1,
    });
    await client({ sleep, clock }).request({ method: "GET", path: "/x" });
    expect(sleeps).toEqual([3000]);
  });

  it("hands a Retry-After beyond the cap to the caller instead of sleeping", async () => {
    const { sleeps, sleep } = recordingSleep();
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "120" }, times: 1 });
    const error = (await client({ sleep, retry: { maxRetryAfterMs: 10_000 } })
      .request({ method: "GET", path: "/x" })
      .catch((e: unknown) => e)) as HttpStatusError;
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(120_000);
    expect(sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it("gets every request through a rate-limited server by waiting as told", async () => {
    server.setRateLimit({ requests: 3, windowMs: 1000 });
    try {
      const http = client({ retry: { maxAttempts: 3 } });
      const results = [];
      for (let i = 0; i < 5; i++)
        results.push((await http.request({ method: "GET", path: "/x" })).status);
      expect(results).toEqual([200, 200, 200, 200, 200]);
      const limited = server.requests.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(1);
      // The retry after a 429 arrived no earlier than the server asked.
      const firstLimited = server.requests.findIndex((r) => r.status === 429);
      const retried = server.requests[firstLimited + 1]!;
      expect(retried.at - server.requests[firstLimited]!.at).toBeGreaterThanOrEqual(900);
    } finally {
      server.setRateLimit(undefined);
    }
  });

  it("really waits with the default sleep (the server sees the gap)", async () => {
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "1" }, times: 1 });
    await client().request({ method: "GET", path: "/x" });
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });
});

describe("timeouts and network errors", () => {
  it("times out a slow attempt and retries an idempotent request", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "delay", ms: 400 }, times: 1 });
    const ok = await client({ sleep, timeoutMs: 100 }).request({ method: "GET", path: "/x" });
    expect(ok.status).toBe(200);
  });

  it("reports a typed timeout when every attempt is too slow", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "delay", ms: 400 }, times: 2 });
    await expect(
      client({ sleep, timeoutMs: 100, retry: { maxAttempts: 2 } }).request({
        method: "GET",
        path: "/x",
      }),
    ).rejects.toBeInstanceOf(HttpTimeoutError);
  });

  it("reports a dropped connection as a network error and retries GET", async () => {
    const { sleep } = recordingSleep();
    server.inject({ fault: { kind: "drop" }, times: 1 });
    expect((await client({ sleep }).request({ method: "GET", path: "/x" })).status).toBe(200);
    server.inject({ fault: { kind: "drop" }, times: 1 });
    await expect(
      client({ sleep }).request({ method: "POST", path: "/x", json: {} }),
    ).rejects.toBeInstanceOf(HttpNetworkError);
  });
});

describe("circuit breaker", () => {
  it("opens after consecutive failures, refuses without calling, half-opens and closes", async () => {
    const states: string[] = [];
    const metrics: HttpMetricsHook = {
      attempt: () => {},
      retry: () => {},
      circuitState: (event) => states.push(event.state),
    };
    const http = client({
      metrics,
      retry: { maxAttempts: 1 },
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 150 },
    });
    server.inject({ fault: { kind: "status", status: 500 }, times: 3 });
    for (let i = 0; i < 3; i++)
      await expect(http.request({ method: "GET", path: "/x" })).rejects.toMatchObject({
        status: 500,
      });
    expect(http.circuitState()).toBe("open");
    const before = handled + server.requests.length;
    const refused = await http.request({ method: "GET", path: "/x" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBe(150);
    expect(handled + server.requests.length).toBe(before);

    await new Promise((resolve) => setTimeout(resolve, 200));
    // A failed trial call re-opens the circuit.
    server.inject({ fault: { kind: "status", status: 503 }, times: 1 });
    await expect(http.request({ method: "GET", path: "/x" })).rejects.toMatchObject({
      status: 503,
    });
    expect(http.circuitState()).toBe("open");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await http.request({ method: "GET", path: "/x" })).status).toBe(200);
    expect(http.circuitState()).toBe("closed");
    expect(states).toEqual(["open", "half_open", "open", "half_open", "closed"]);
  });

  it("does not count 4xx or 429 answers as service failures", async () => {
    const { sleep } = recordingSleep();
    const http = client({ sleep, retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 2 } });
    for (let i = 0; i < 3; i++)
      await expect(http.request({ method: "GET", path: "/bad" })).rejects.toThrow();
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "600" }, times: 3 });
    for (let i = 0; i < 3; i++)
      await expect(http.request({ method: "GET", path: "/x" })).rejects.toThrow();
    expect(http.circuitState()).toBe("closed");
  });
});

describe("metrics hook", () => {
  it("counts attempts by outcome and retries by reason, with bounded labels", async () => {
    const attempts: string[] = [];
    const retries: string[] = [];
    const { sleep } = recordingSleep();
    const http = client({
      sleep,
      timeoutMs: 100,
      metrics: {
        attempt: (e) => attempts.push(`${e.integration}:${e.method}:${e.outcome}:${e.statusClass}`),
        retry: (e) => retries.push(e.reason),
      },
    });
    server.inject({ fault: { kind: "status", status: 503 }, times: 1 });
    server.inject({ fault: { kind: "delay", ms: 300 }, times: 1 });
    await http.request({ method: "GET", path: "/x" });
    expect(attempts).toEqual([
      "test:GET:http_error:5xx",
      "test:GET:timeout:none",
      "test:GET:success:2xx",
    ]);
    expect(retries).toEqual(["status", "timeout"]);
  });
});

describe("asFetch (for SDKs with their own retry loop)", () => {
  it("honours Retry-After itself and returns other failures as responses", async () => {
    const { sleeps, sleep } = recordingSleep();
    const fetcher = client({ sleep }).asFetch();
    server.inject({ fault: { kind: "status", status: 429, retryAfter: "1" }, times: 1 });
    const ok = await fetcher(`${server.url}/x`, { method: "POST", body: "{}" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, method: "POST" });
    expect(sleeps).toEqual([1000]);
    const failed = await fetcher(`${server.url}/text`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe("plain failure");
    expect(server.requests).toHaveLength(3);
  });
});
