import { HttpStatusError, type HttpStatusErrorInit } from "../http.js";

/**
 * A refused Label Studio request. Its DRF exception handler answers
 * `{"id", "status_code", "version", "detail", "exc_info"}`, with field problems under
 * `validation_errors` (and `detail: "Validation error"`) for a 400.
 */
export class LabelStudioApiError extends HttpStatusError {
  readonly detail: string;
  readonly validationErrors: Record<string, unknown> | undefined;
  constructor(init: HttpStatusErrorInit) {
    const body =
      typeof init.body === "object" && init.body !== null
        ? (init.body as Record<string, unknown>)
        : {};
    const detail =
      typeof body.detail === "string"
        ? body.detail
        : typeof init.body === "string"
          ? init.body.slice(0, 500)
          : "no detail";
    const validationErrors =
      typeof body.validation_errors === "object" && body.validation_errors !== null
        ? (body.validation_errors as Record<string, unknown>)
        : undefined;
    const suffix = validationErrors ? ` ${JSON.stringify(validationErrors).slice(0, 500)}` : "";
    super(
      init,
      `Label Studio ${init.method} ${init.path} answered ${init.status}: ${detail}${suffix}`,
    );
    this.name = "LabelStudioApiError";
    this.detail = detail;
    this.validationErrors = validationErrors;
  }
}
