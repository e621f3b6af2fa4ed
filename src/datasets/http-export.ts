import type { Principal } from "../auth/actor.js";
import { AuthenticationError } from "../auth/authenticate.js";
import { ConflictError, NotFoundError } from "../errors.js";
import { hexToObjectId } from "../ids.js";
import type { Logger } from "../observability/logger.js";
import { type ExportFile, rowsIn } from "./export.js";
import type { DatasetService } from "./snapshots.js";

/**
 * `GET /datasets/<snapshot id>/<train|eval|provenance>.jsonl`: a ready snapshot's file, streamed
 * from the store page by page (never the whole snapshot in memory), with the READ scope. The
 * bytes are the stored lines, so this route, the CLI (`npm run dataset:export`) and any rebuild
 * with the same inputs give identical files; `ETag` is the split's SHA-256.
 */
export const DATASET_EXPORT_PREFIX = "/datasets/";
const PATH = /^\/datasets\/([0-9a-f]{24})\/(train|eval|provenance)\.jsonl$/;

/** Where a snapshot's file is served (relative to the gateway's base URL). */
export const datasetExportPath = (id: string, file: ExportFile) =>
  `${DATASET_EXPORT_PREFIX}${id}/${file}.jsonl`;

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(`${body}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });

export function createDatasetExportRoute(deps: {
  readonly datasets: DatasetService;
  readonly authenticate: (headers: Headers) => Promise<Principal>;
  readonly logger: Logger;
}): (request: Request) => Promise<Response> {
  return async (request) => {
    const match = PATH.exec(new URL(request.url).pathname);
    if (!match) {
      return text(404, "not found: use /datasets/<snapshot id>/<train|eval|provenance>.jsonl");
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "method not allowed: use GET", { allow: "GET, HEAD" });
    }
    let principal: Principal;
    try {
      principal = await deps.authenticate(request.headers);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      return text(401, error.message, { "www-authenticate": "Bearer" });
    }
    if (principal.kind === "anonymous") {
      return text(401, "this download needs an API key with the READ scope", {
        "www-authenticate": "Bearer",
      });
    }
    if (!principal.scopes.has("read")) {
      return text(403, "this download needs an API key with the READ scope");
    }
    const id = hexToObjectId(match[1]!)!;
    const file = match[2] as ExportFile;
    let snapshot: Awaited<ReturnType<DatasetService["exportable"]>>;
    try {
      snapshot = await deps.datasets.exportable(id);
    } catch (error) {
      if (error instanceof NotFoundError) return text(404, error.message);
      if (error instanceof ConflictError) return text(409, error.message);
      throw error;
    }
    const name = `loopgate-${snapshot.kind}-v${snapshot.version}-${file}.jsonl`;
    const headers: Record<string, string> = {
      "content-type": "application/jsonl; charset=utf-8",
      "content-disposition": `attachment; filename="${name}"`,
      "x-loopgate-rows": String(rowsIn(snapshot, file)),
    };
    if (file !== "provenance" && snapshot.sha256) headers.etag = `"${snapshot.sha256[file]}"`;
    if (request.method === "HEAD") return new Response(null, { status: 200, headers });

    const lines = deps.datasets.lines(id, file);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      // Pull: the next page is read only when the client has taken the previous one.
      async pull(controller) {
        try {
          let chunk = "";
          while (chunk.length < 64 * 1024) {
            const next = await lines.next();
            if (next.done) {
              if (chunk) controller.enqueue(encoder.encode(chunk));
              controller.close();
              return;
            }
            chunk += next.value;
          }
          controller.enqueue(encoder.encode(chunk));
        } catch (error) {
          deps.logger.error({ err: error, snapshot: id.toHexString() }, "dataset export failed");
          controller.error(error);
        }
      },
      async cancel() {
        await lines.return(undefined);
      },
    });
    return new Response(body, { status: 200, headers });
  };
}
