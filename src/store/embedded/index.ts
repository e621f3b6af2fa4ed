// CONTRACT (implementation in progress by the store helper): the public face of the embedded store.
import type { Logger } from "pino";

export interface EmbeddedMongoOptions {
  /** Port on 127.0.0.1; 0 picks a free port. */
  port?: number;
  /** Interface to bind; loopback only by default. */
  host?: string;
  /** Directory holding the SQLite files. Created when missing. */
  dbPath: string;
  logger?: Logger;
  /** Injected clock for TTL expiry and cursor timeouts. */
  now?: () => Date;
}

export interface EmbeddedMongo {
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  readonly dbPath: string;
  /** Stops accepting, closes client sockets, closes SQLite. Idempotent. */
  close(): Promise<void>;
}

export declare function startEmbeddedMongo(options: EmbeddedMongoOptions): Promise<EmbeddedMongo>;
