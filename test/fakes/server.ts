/**
 * Scaffold shared by the fake LangSmith, Argilla and Label Studio servers: a loopback HTTP
 * server on a free port with a request log, fault injection (status codes, 429 with
 * Retry-After, slow answers, dropped connections) and self-stopping (unref'd, closed after an
 * idle period). Each fake supplies its routes and its vendor's error body shape.
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  /** Path without the query string, exactly as sent (trailing slashes kept). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

export interface FakeReply {
  status: number;
  /** JSON-serialized unless a string or Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown by route code to answer with an error in the vendor's shape. */
export class FakeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`fake error ${status}`);
  }
}

export type Fault =
  | { kind: "status"; status: number; retryAfter?: string; body?: unknown }
  | { kind: "delay"; ms: number }
  | { kind: "drop" }
  /** The request is handled (its write is stored), then answered with `status`: a lost answer. */
  | { kind: "lost"; status: number };

export interface FaultRule {
  fault: Fault;
  /** How many matching requests it applies to. */
  times: number;
  method?: string;
  /** Substring or pattern matched against the path. */
  path?: string | RegExp;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  status: number;
  at: number;
}

export interface FakeServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Queue a fault for the next matching requests. */
  inject(rule: FaultRule): void;
  clearFaults(): void;
  /**
   * A fixed-window rate limit over all requests, as the real services apply per key: over the
   * limit, 429 with `Retry-After` (whole seconds until the window ends). `undefined` lifts it.
   */
  setRateLimit(limit: { requests: number; windowMs: number } | undefined): void;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  handle(request: FakeRequest): FakeReply | Promise<FakeReply>;
  /** Body of an error the fault injector answers, in the vendor's shape. */
  errorBody(status: number, message: string): unknown;
  /** Stop after this long without requests, so a forgotten fake never holds the process (default 60 s). */
  idleMs?: number;
}

const STATUS_TEXT: Record<number, string> = {
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  let rules: FaultRule[] = [];
  let idle: NodeJS.Timeout | undefined;
  let rateLimit: { requests: number; windowMs: number } | undefined;
  let windowStart = 0;
  let windowCount = 0;
  const idleMs = options.idleMs ?? 60_000;

  function takeFault(method: string, path: string): Fault | undefined {
    const rule = rules.find(
      (candidate) =>
        candidate.times > 0 &&
        (candidate.method === undefined || candidate.method === method) &&
        (candidate.path === undefined ||
          (typeof candidate.path === "string"
            ? path.includes(candidate.path)
            : candidate.path.test(path))),
    );
    if (!rule) return undefined;
    rule.times -= 1;
    return rule.fault;
  }

  function send(res: ServerResponse, reply: FakeReply): void {
    const headers: Record<string, string> = { ...reply.headers };
    let payload: string | Buffer | undefined;
    if (reply.body === undefined) payload = undefined;
    else if (typeof reply.body === "string" || Buffer.isBuffer(reply.body)) payload = reply.body;
    else {
      payload = JSON.stringify(reply.body);
      headers["content-type"] ??= "application/json";
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    resetIdle();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const record = (status: number) =>
      requests.push({
        method,
        path: target.pathname,
        query: target.search,
        headers: req.headers,
        status,
        at: performance.now(),
      });
    const fault = takeFault(method, target.pathname);
    if (fault?.kind === "drop") {
      record(0);
      req.socket.destroy();
      return;
    }
    if (rateLimit) {
      const now = Date.now();
      if (now - windowStart >= rateLimit.windowMs) {
        windowStart = now;
        windowCount = 0;
      }
      windowCount += 1;
      if (windowCount > rateLimit.requests) {
        const waitSeconds = Math.max(1, Math.ceil((windowStart + rateLimit.windowMs - now) / 1000));
        record(429);
        send(res, {
          status: 429,
          body: options.errorBody(429, "Too Many Requests"),
          headers: { "retry-after": String(waitSeconds) },
        });
        return;
      }
    }
    if (fault?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === "status") {
      record(fault.status);
      send(res, {
        status: fault.status,
        body:
          fault.body ??
          options.errorBody(fault.status, STATUS_TEXT[fault.status] ?? "Injected fault"),
        headers: fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter },
      });
      return;
    }
    let reply: FakeReply;
    try {
      reply = await options.handle({
        method,
        path: target.pathname,
        query: target.searchParams,
        headers: req.headers,
        raw: Buffer.concat(chunks),
      });
    } catch (error) {
      if (error instanceof FakeHttpError)
        reply = { status: error.status, body: error.body, headers: error.headers };
      else
        reply = {
          status: 500,
          body: options.errorBody(500, `fake crashed: ${String(error)} ${randomUUID()}`),
        };
    }
    if (fault?.kind === "lost" && reply.status < 300)
      reply = {
        status: fault.status,
        body: options.errorBody(fault.status, STATUS_TEXT[fault.status] ?? "Injected fault"),
      };
    record(reply.status);
    if (!res.destroyed) send(res, reply);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    if (idle) clearTimeout(idle);
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  }
  function resetIdle(): void {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => void close(), idleMs);
    idle.unref();
  }
  resetIdle();

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject: (rule) => rules.push({ ...rule }),
    clearFaults: () => {
      rules = [];
    },
    setRateLimit: (limit) => {
      rateLimit = limit;
      windowStart = 0;
      windowCount = 0;
    },
    close,
  };
}

/** Parses a JSON request body; a body that is not JSON is the caller's fault. */
export function readJson(
  request: FakeRequest,
  invalid: (message: string) => FakeHttpError,
): unknown {
  const text = request.raw.toString("utf8");
  if (text === "") throw invalid("Request body is required");
  try {
    return JSON.parse(text);
  } catch {
    throw invalid("Request body is not valid JSON");
  }
}

/** Posts a JSON webhook delivery; a failure is the receiver's problem, as with the real services. */
export async function deliver(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<number> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
