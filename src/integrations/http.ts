/**
 * The one outbound HTTP client for integrations (LangSmith, Argilla, Label Studio).
 *
 * Layers, outside-in, per attempt:
 *   retry loop   — exponential backoff with full jitter (cockatiel's generator), `Retry-After`
 *                  (seconds or HTTP-date) honoured up to a cap; idempotent requests only, except
 *                  429, which says the request was not processed and may always be repeated
 *   breaker      — cockatiel circuit breaker, one per client (= per integration): consecutive
 *                  5xx, timeouts and network errors open it; after `halfOpenAfterMs` one trial call
 *   timeout      — per attempt, covering headers and body, via AbortSignal
 *   fetch        — Node's built-in fetch (undici), injectable
 *
 * Long waits are not slept here: a `Retry-After` beyond the cap, an open circuit or exhausted
 * retries surface as typed errors carrying `retryAfterMs`, so the job layer reschedules durably.
 */
import { setTimeout as delay } from "node:timers/promises";
import {
  context as otelContext,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace as traceApi,
} from "@opentelemetry/api";
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  fullJitterGenerator,
  handleWhen,
  type IBackoff,
} from "cockatiel";
import { type Clock, systemClock } from "../clock.js";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Outcome of one attempt; a closed set so metric labels stay bounded. */
export type AttemptOutcome = "success" | "http_error" | "timeout" | "network_error";
export type RetryReason = "status" | "timeout" | "network";
export type CircuitStateName = "closed" | "open" | "half_open" | "isolated";

/**
 * The narrow metrics hook: observability implements it; this module never imports metrics code.
 * Every label value is from a closed set (integration names are fixed by configuration).
 */
export interface HttpMetricsHook {
  attempt(event: {
    integration: string;
    method: HttpMethod;
    outcome: AttemptOutcome;
    /** "2xx" … "5xx", or "none" when no response arrived. */
    statusClass: string;
    durationMs: number;
  }): void;
  retry(event: { integration: string; reason: RetryReason; delayMs: number }): void;
  circuitState?(event: { integration: string; state: CircuitStateName }): void;
  /** A request refused without a network call because the circuit is open. */
  rejected?(event: { integration: string }): void;
}

export interface RetryOptions {
  /** Total attempts including the first (default 3). */
  maxAttempts?: number;
  /** First backoff ceiling; full jitter picks a delay in [0, base·2^n) (default 200 ms). */
  baseDelayMs?: number;
  /** Backoff ceiling (default 5 s). */
  maxDelayMs?: number;
  /** Longest `Retry-After` slept in-process; longer ones are returned to the caller (default 30 s). */
  maxRetryAfterMs?: number;
}

export interface BreakerOptions {
  /** Consecutive failed attempts that open the circuit (default 5). */
  consecutiveFailures?: number;
  /** How long the circuit stays open before one trial call (default 30 s). */
  halfOpenAfterMs?: number;
}

export interface HttpClientOptions {
  /** Integration name, used in errors and as the metric label. */
  integration: string;
  baseUrl: string;
  /** Headers for every request, computed per attempt (auth tokens may refresh). */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  retry?: RetryOptions;
  breaker?: BreakerOptions;
  /** Builds the error for a non-2xx response, so each provider parses its own error bodies. */
  errorFactory?: (info: HttpStatusErrorInit) => HttpStatusError;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Used to turn an HTTP-date `Retry-After` into a delay. */
  clock?: Clock;
  metrics?: HttpMetricsHook;
}

export type QueryValue =
  | string
  | number
  | boolean
  | undefined
  | null
  | readonly (string | number)[];

export interface HttpRequest {
  method: HttpMethod;
  /** Path relative to the base URL, e.g. `/api/v1/me`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Serialized as JSON with `content-type: application/json`. */
  json?: unknown;
  /** A raw body (e.g. FormData); mutually exclusive with `json`. */
  body?: BodyInit;
  headers?: Record<string, string>;
  /**
   * May the request be repeated after a timeout, network error or 5xx? Defaults to true for
   * GET, HEAD, PUT and DELETE; a POST is idempotent only when it carries its own idempotency key.
   */
  idempotent?: boolean;
  /** Leave out the client's default headers (e.g. a token exchange that must not carry auth). */
  withoutDefaultHeaders?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response says JSON, text otherwise, undefined when empty. */
  body: T;
}

export interface HttpStatusErrorInit {
  integration: string;
  method: HttpMethod;
  path: string;
  status: number;
  body: unknown;
  retryAfterMs: number | undefined;
}

/** Base of every failure this client reports. */
export class HttpError extends Error {
  /** When the caller may try again, if the service said so or the circuit knows. */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly integration: string,
    message: string,
    options: { retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.retryAfterMs = options.retryAfterMs;
  }
  /** Worth trying again later (as a rescheduled job), as opposed to a request that is wrong. */
  get transient(): boolean {
    return true;
  }
}

export class HttpStatusError extends HttpError {
  readonly method: HttpMethod;
  readonly path: string;
  readonly status: number;
  /** The response body (parsed JSON or text, truncated to 4 KiB when text). */
  readonly body: unknown;
  constructor(init: HttpStatusErrorInit, message?: string) {
    super(
      init.integration,
      message ?? `${init.integration}: ${init.method} ${init.path} answered ${init.status}`,
      {
        retryAfterMs: init.retryAfterMs,
      },
    );
    this.name = "HttpStatusError";
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.body = init.body;
  }
  override get transient(): boolean {
    return RETRYABLE_STATUSES.has(this.status) || this.status === 500;
  }
}

export class HttpTimeoutError extends HttpError {
  constructor(integration: string, method: HttpMethod, path: string, timeoutMs: number) {
    super(integration, `${integration}: ${method} ${path} timed out after ${timeoutMs} ms`);
    this.name = "HttpTimeoutError";
  }
}

export class HttpNetworkError extends HttpError {
  constructor(integration: string, method: HttpMethod, path: string, cause: unknown) {
    super(integration, `${integration}: ${method} ${path} failed: ${describe(cause)}`, { cause });
    this.name = "HttpNetworkError";
  }
}

export class CircuitOpenError extends HttpError {
  constructor(integration: string, retryAfterMs: number) {
    super(integration, `${integration}: circuit open after repeated failures; not calling`, {
      retryAfterMs,
    });
    this.name = "CircuitOpenError";
  }
}

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const IDEMPOTENT_METHODS = new Set<HttpMethod>(["GET", "HEAD", "PUT", "DELETE"]);
const MAX_TEXT_BODY = 4096;

export interface HttpClient {
  readonly integration: string;
  request<T = unknown>(request: HttpRequest): Promise<HttpResponse<T>>;
  /**
   * A `fetch` for SDKs that own their request loop (the LangSmith SDK): the same breaker,
   * timeout and metrics, and `Retry-After` honoured on 429/503 (the SDK ignores it), but other
   * failures are returned as responses so the SDK's own retry policy stays the only one.
   */
  asFetch(): typeof fetch;
  circuitState(): CircuitStateName;
}

/** Parses `Retry-After`: delta-seconds or an HTTP-date, relative to `now`. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now.getTime());
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const integration = options.integration;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 3);
  const maxRetryAfterMs = options.retry?.maxRetryAfterMs ?? 30_000;
  const backoffFactory = new ExponentialBackoff({
    initialDelay: options.retry?.baseDelayMs ?? 200,
    maxDelay: options.retry?.maxDelayMs ?? 5_000,
    generator: fullJitterGenerator,
  });
  const halfOpenAfterMs = options.breaker?.halfOpenAfterMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const sleep =
    options.sleep ?? ((ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }));
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics;
  const errorFactory = options.errorFactory ?? ((info) => new HttpStatusError(info));

  // Only failures that say the service is unwell open the circuit: a 4xx is our request's fault,
  // and a 429 is the service protecting itself (we honour Retry-After instead).
  const breaker = circuitBreaker(
    handleWhen((error) => error instanceof BreakerFailure),
    {
      halfOpenAfter: halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker?.consecutiveFailures ?? 5),
    },
  );
  breaker.onStateChange((state) =>
    metrics?.circuitState?.({ integration, state: stateName(state) }),
  );

  function url(path: string, query?: Record<string, QueryValue>): string {
    const target = new URL(baseUrl + (path.startsWith("/") ? path : `/${path}`));
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value))
        for (const item of value) target.searchParams.append(key, String(item));
      else target.searchParams.append(key, String(value));
    }
    return target.toString();
  }

  /** One attempt through the breaker; resolves with the response and its fully read body. */
  async function attempt(
    method: HttpMethod,
    target: string,
    pathForErrors: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
    defaultHeaders = true,
  ): Promise<{ response: Response; text: string }> {
    // Computed before the breaker and the timeout: a failing token exchange is its own error
    // (with its own status), not a network failure of this request.
    const headers = new Headers(defaultHeaders ? await options.headers?.() : undefined);
    for (const [name, value] of new Headers(init.headers)) headers.set(name, value);
    const started = performance.now();
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    // One client span per attempt; the trace context travels in `traceparent`.
    let span: Span | undefined;
    const report = (outcome: AttemptOutcome, status?: number) => {
      if (status !== undefined) span?.setAttribute("http.response.status_code", status);
      if (outcome !== "success") span?.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span?.end();
      metrics?.attempt({
        integration,
        method,
        outcome,
        statusClass: status === undefined ? "none" : `${Math.floor(status / 100)}xx`,
        durationMs: performance.now() - started,
      });
    };
    try {
      return await breaker.execute(async () => {
        let response: Response;
        let text: string;
        const url = new URL(target);
        span = traceApi.getTracer("loopgate").startSpan(method, {
          kind: SpanKind.CLIENT,
          attributes: {
            "http.request.method": method,
            "server.address": url.hostname,
            "url.full": `${url.origin}${url.pathname}`,
            "loopgate.integration": integration,
          },
        });
        propagation.inject(traceApi.setSpan(otelContext.active(), span), headers, {
          set: (carrier, name, value) => carrier.set(name, value),
        });
        try {
          response = await doFetch(target, { ...init, headers, signal: combined });
          text = await response.text();
        } catch (error) {
          if (signal?.aborted) throw error;
          if (timeout.aborted) {
            report("timeout");
            throw new BreakerFailure(
              new HttpTimeoutError(integration, method, pathForErrors, timeoutMs),
            );
          }
          report("network_error");
          throw new BreakerFailure(new HttpNetworkError(integration, method, pathForErrors, error));
        }
        report(response.ok ? "success" : "http_error", response.status);
        if (response.status >= 500) throw new BreakerFailure(undefined, { response, text });
        return { response, text };
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        metrics?.rejected?.({ integration });
        throw new CircuitOpenError(integration, halfOpenAfterMs);
      }
      if (error instanceof BreakerFailure) {
        if (error.result) return error.result;
        throw error.error;
      }
      throw error;
    }
  }

  interface Decision {
    retry: boolean;
    delayMs: number;
    retryAfterMs: number | undefined;
  }

  /** Whether and how long to wait before the next attempt. */
  function decide(
    failure: { status?: number; headers?: Headers; kind: RetryReason },
    idempotent: boolean,
    attemptNo: number,
    backoff: IBackoff<unknown>,
  ): Decision {
    const retryAfterMs =
      failure.headers &&
      failure.status !== undefined &&
      (failure.status === 429 || failure.status === 503)
        ? parseRetryAfter(failure.headers.get("retry-after"), clock.now())
        : undefined;
    const retryable =
      failure.kind === "status"
        ? failure.status === 429 || (idempotent && RETRYABLE_STATUSES.has(failure.status ?? 0))
        : idempotent;
    if (!retryable || attemptNo >= maxAttempts) return { retry: false, delayMs: 0, retryAfterMs };
    if (retryAfterMs !== undefined) {
      // Too long to hold a worker: hand it to the caller (the job layer reschedules).
      if (retryAfterMs > maxRetryAfterMs) return { retry: false, delayMs: 0, retryAfterMs };
      return { retry: true, delayMs: retryAfterMs, retryAfterMs };
    }
    return { retry: true, delayMs: backoff.duration, retryAfterMs };
  }

  async function request<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    const { method } = req;
    const target = url(req.path, req.query);
    const idempotent = req.idempotent ?? IDEMPOTENT_METHODS.has(method);
    const headers: Record<string, string> = { accept: "application/json", ...req.headers };
    let body: BodyInit | undefined = req.body;
    if (req.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(req.json);
    }
    let backoff = backoffFactory.next();
    for (let attemptNo = 1; ; attemptNo++) {
      let decision: Decision;
      let failure: HttpError;
      try {
        const { response, text } = await attempt(
          method,
          target,
          req.path,
          { method, headers, body },
          req.signal,
          !req.withoutDefaultHeaders,
        );
        const parsed = parseBody(response, text);
        if (response.ok)
          return { status: response.status, headers: response.headers, body: parsed as T };
        decision = decide(
          { status: response.status, headers: response.headers, kind: "status" },
          idempotent,
          attemptNo,
          backoff,
        );
        failure = errorFactory({
          integration,
          method,
          path: req.path,
          status: response.status,
          body: parsed,
          retryAfterMs: decision.retryAfterMs,
        });
      } catch (error) {
        if (error instanceof HttpTimeoutError || error instanceof HttpNetworkError) {
          const kind = error instanceof HttpTimeoutError ? "timeout" : "network";
          decision = decide({ kind }, idempotent, attemptNo, backoff);
          failure = error;
        } else throw error;
      }
      if (!decision.retry) throw failure;
      metrics?.retry({
        integration,
        reason:
          failure instanceof HttpStatusError
            ? "status"
            : failure instanceof HttpTimeoutError
              ? "timeout"
              : "network",
        delayMs: decision.delayMs,
      });
      await sleep(decision.delayMs, req.signal);
      backoff = backoff.next(undefined);
    }
  }

  function asFetch(): typeof fetch {
    return async (input, init) => {
      const method = (init?.method ?? "GET").toUpperCase() as HttpMethod;
      const target =
        typeof input === "string" ? input : input instanceof URL ? input.toString() : input.url;
      const path = new URL(target).pathname;
      for (let attemptNo = 1; ; attemptNo++) {
        const { response, text } = await attempt(
          method,
          target,
          path,
          { ...init, signal: null },
          init?.signal ?? undefined,
        );
        const retryAfterMs =
          response.status === 429 || response.status === 503
            ? parseRetryAfter(response.headers.get("retry-after"), clock.now())
            : undefined;
        const repeatable = response.status === 429 || IDEMPOTENT_METHODS.has(method);
        if (
          retryAfterMs !== undefined &&
          repeatable &&
          retryAfterMs <= maxRetryAfterMs &&
          attemptNo < maxAttempts
        ) {
          metrics?.retry({ integration, reason: "status", delayMs: retryAfterMs });
          await sleep(retryAfterMs, init?.signal ?? undefined);
          continue;
        }
        const nullBody = response.status === 204 || response.status === 304 || method === "HEAD";
        return new Response(nullBody ? null : text, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      }
    };
  }

  return {
    integration,
    request,
    asFetch,
    circuitState: () => stateName(breaker.state),
  };
}

/** Carries a failure through cockatiel so the breaker counts it; unwrapped right after. */
class BreakerFailure extends Error {
  constructor(
    readonly error: HttpError | undefined,
    readonly result?: { response: Response; text: string },
  ) {
    super("breaker failure");
  }
}

function stateName(state: CircuitState): CircuitStateName {
  switch (state) {
    case CircuitState.Closed:
      return "closed";
    case CircuitState.Open:
      return "open";
    case CircuitState.HalfOpen:
      return "half_open";
    default:
      return "isolated";
  }
}

function parseBody(response: Response, text: string): unknown {
  if (text === "") return undefined;
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      // A proxy's error page labelled JSON: keep the text for the error message.
    }
  }
  return text.length > MAX_TEXT_BODY && !response.ok ? text.slice(0, MAX_TEXT_BODY) : text;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
