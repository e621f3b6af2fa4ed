/**
 * Expected failures of the domain. Services throw these; the GraphQL layer turns them into typed
 * union results, and anything else is treated as unexpected (masked for clients, logged).
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
}

export interface FieldProblem {
  /** Dotted path of the offending input field, e.g. `input.rating.score`. */
  readonly path: string;
  readonly message: string;
}

export class ValidationError extends DomainError {
  readonly code = "VALIDATION_FAILED";
  constructor(
    readonly fields: readonly FieldProblem[],
    message = `Invalid input: ${fields.map((field) => `${field.path}: ${field.message}`).join("; ")}`,
  ) {
    super(message);
    this.name = "ValidationError";
  }
}

export class NotFoundError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${id} was not found`);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends DomainError {
  readonly code = "CONFLICT";
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}

export class ForbiddenError extends DomainError {
  readonly code = "FORBIDDEN";
  constructor(message: string) {
    super(message);
    this.name = "ForbiddenError";
  }
}

/**
 * A live-feed subscriber did not keep up (its socket accepted nothing for too long, or too many
 * events piled up); its stream is closed with this error. Clients reconnect and catch up through
 * queries.
 */
export class SlowConsumerError extends DomainError {
  readonly code = "SLOW_CONSUMER";
  constructor(message: string) {
    super(message);
    this.name = "SlowConsumerError";
  }
}
