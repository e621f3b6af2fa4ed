import { createServer, type Server, type Socket } from "node:net";
import type { Document } from "bson";
import type { Logger } from "pino";
import { helloReply, MAX_MESSAGE_SIZE_BYTES } from "./commands/admin.js";
import { type ConnectionInfo, runCommand, type ServerState } from "./commands/index.js";
import { codeNameOf } from "./errors.js";
import type { WriteGroup } from "./group-commit.js";
import {
  encodeMsg,
  encodeReply,
  FrameDecoder,
  type MsgRequest,
  parseRequest,
  type QueryRequest,
  WireError,
} from "./wire.js";

/**
 * The socket side (TCP or a Unix domain socket): frames arrive, each request runs to completion
 * synchronously (the store is single-threaded, so commands never interleave). A reply produced
 * while a write group is open waits for its commit (group-commit.ts); replies of one connection
 * keep their order.
 */

const HANDSHAKE_COMMANDS = new Set(["hello", "ismaster", "isMaster"]);

export interface WireServer {
  readonly server: Server;
  readonly connections: Set<Socket>;
  totalConnections(): number;
  close(): Promise<void>;
}

export interface WireServerOptions {
  readonly logger: Logger | undefined;
  /** Filled in once the store is assembled; requests only arrive after listen(). */
  readonly state: () => ServerState;
  /** While the store is still loading: a promise settled when it is ready; else undefined. */
  readonly loading: () => Promise<void> | undefined;
  /** The write group: replies wait for its commit. */
  readonly writes: WriteGroup;
}

/** Commands whose replies reveal no stored data. */
const DATA_FREE = new Set(["hello", "ismaster", "isMaster", "buildInfo", "buildinfo", "ping"]);

/** Answered while the store loads, so drivers can connect and wait for their first command. */
const ANSWERED_WHILE_LOADING = new Set(["hello", "ismaster", "isMaster", "buildInfo", "buildinfo"]);

function handleQuery(
  request: QueryRequest,
  state: ServerState,
  connection: ConnectionInfo,
): Buffer {
  const name = Object.keys(request.query)[0] ?? "";
  const isCommand = request.fullCollectionName.endsWith(".$cmd");
  let reply: Document;
  if (isCommand && HANDSHAKE_COMMANDS.has(name)) {
    reply = helloReply({ body: request.query, name, server: state, connection });
  } else {
    // mongod 5.1+ accepts OP_QUERY only for the connection handshake.
    reply = {
      ok: 0,
      errmsg: `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal`,
      code: 352,
      codeName: codeNameOf(352),
    };
  }
  return encodeReply(reply, 0, request.header.requestId);
}

function handleMsg(
  request: MsgRequest,
  state: ServerState,
  connection: ConnectionInfo,
): Buffer | undefined {
  const reply = runCommand(state, connection, request.body);
  // moreToCome on a request means the client will not read a reply (w:0 writes).
  if (request.moreToCome) return undefined;
  return encodeMsg(reply, 0, request.header.requestId);
}

export function createWireServer(options: WireServerOptions): WireServer {
  const { logger } = options;
  const connections = new Set<Socket>();
  let nextConnectionId = 1;
  let total = 0;

  const server = createServer((socket) => {
    const connection: ConnectionInfo = {
      id: nextConnectionId++,
      remote: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : "unix",
    };
    total++;
    connections.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(MAX_MESSAGE_SIZE_BYTES);
    let pending: ReturnType<typeof parseRequest>[] | undefined;
    const fail = (error: unknown) => {
      // A malformed message (bad checksum, bad sections) leaves the stream untrustworthy.
      const level = error instanceof WireError ? "warn" : "error";
      logger?.[level]({ err: error, connection: connection.id }, "closing connection");
      socket.destroy();
    };
    // Replies of this connection still waiting for a commit (later ones queue behind them).
    let held = 0;
    /**
     * Writes a reply once nothing it may have seen is uncommitted. Handshakes and pings read no
     * data, so they never wait (drivers open connections and monitor with them under load).
     */
    const send = (out: Buffer, readsNoData: boolean) => {
      if (!options.writes.isOpen() || (readsNoData && held === 0)) {
        socket.write(out);
        return;
      }
      held++;
      options.writes.afterCommit((error) => {
        held--;
        if (socket.destroyed) return;
        // Not committed: the client must not read an answer; a closed connection leaves the
        // outcome unknown to it (retryable writes retry), never falsely acknowledged.
        if (error) socket.destroy();
        else socket.write(out);
      });
    };
    /** Runs one request and writes its reply; false when the connection was closed. */
    const process = (request: ReturnType<typeof parseRequest>): boolean => {
      try {
        let out: Buffer | undefined;
        if (request.kind === "msg") out = handleMsg(request, options.state(), connection);
        else if (request.kind === "query") out = handleQuery(request, options.state(), connection);
        else {
          logger?.warn({ opCode: request.header.opCode }, "closing connection: unsupported opcode");
          socket.destroy();
          return false;
        }
        if (out)
          send(out, request.kind !== "msg" || DATA_FREE.has(Object.keys(request.body)[0] ?? ""));
        return true;
      } catch (error) {
        fail(error);
        return false;
      }
    };
    socket.on("data", (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        logger?.warn({ err: error, connection: connection.id }, "closing connection: bad frame");
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (socket.destroyed) return;
        let request: ReturnType<typeof parseRequest>;
        try {
          request = parseRequest(frame);
        } catch (error) {
          fail(error);
          return;
        }
        const loading = options.loading();
        const answerNow =
          request.kind !== "msg" || ANSWERED_WHILE_LOADING.has(Object.keys(request.body)[0] ?? "");
        if (pending || (loading && !answerNow)) {
          // Held in arrival order until the store has loaded; replies keep their order.
          if (!pending) {
            pending = [];
            const queue = pending;
            void (loading ?? Promise.resolve()).then(() => {
              for (const held of queue) {
                if (socket.destroyed) return;
                if (!process(held)) return;
              }
              pending = undefined;
            });
          }
          pending.push(request);
          continue;
        }
        if (!process(request)) return;
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => connections.delete(socket));
  });

  let closing: Promise<void> | undefined;
  return {
    server,
    connections,
    totalConnections: () => total,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of connections) socket.destroy();
        connections.clear();
      });
      return closing;
    },
  };
}
