import { HttpStatusError, type HttpStatusErrorInit } from "../http.js";

/**
 * A refused Argilla request. Argilla answers in two shapes: domain errors as
 * `{"detail": "<message>"}`, and legacy ones (401, 403, request validation) as
 * `{"detail": {"code": "argilla.api.errors::<Name>", "params": {...}}}`.
 */
export class ArgillaApiError extends HttpStatusError {
  /** `argilla.api.errors::…` for legacy errors, undefined for plain `detail` messages. */
  readonly code: string | undefined;
  readonly detail: string;
  constructor(init: HttpStatusErrorInit) {
    const { code, detail } = parseArgillaError(init.body);
    super(init, `Argilla ${init.method} ${init.path} answered ${init.status}: ${detail}`);
    this.name = "ArgillaApiError";
    this.code = code;
    this.detail = detail;
  }
}

function parseArgillaError(body: unknown): { code: string | undefined; detail: string } {
  if (typeof body === "string") return { code: undefined, detail: body.slice(0, 500) };
  if (typeof body !== "object" || body === null || !("detail" in body))
    return { code: undefined, detail: "no detail" };
  const detail = (body as { detail: unknown }).detail;
  if (typeof detail === "string") return { code: undefined, detail };
  if (typeof detail === "object" && detail !== null) {
    const { code, params, message } = detail as {
      code?: unknown;
      params?: unknown;
      message?: unknown;
    };
    const text =
      typeof message === "string"
        ? message
        : typeof params === "object" && params !== null && "detail" in params
          ? String((params as { detail: unknown }).detail)
          : JSON.stringify(params ?? detail).slice(0, 500);
    return { code: typeof code === "string" ? code : undefined, detail: text };
  }
  return { code: undefined, detail: JSON.stringify(detail).slice(0, 500) };
}
