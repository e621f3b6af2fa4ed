import type { Logger } from "pino";
import type { Storage } from "./storage.js";

/**
 * Group commit: write commands that arrive together share one SQLite transaction and one fsync.
 *
 * The store runs commands one at a time. The first write opens a transaction; every write
 * command runs in its own savepoint (a failing command rolls back only its own changes). The
 * commit is deferred to `setImmediate`, i.e. until the event loop has run every request already
 * read from the sockets; so while one commit's fsync blocks the store's thread, the writes that
 * arrive meanwhile pile up and the next turn commits them all at once. A group that has been
 * open for MAX_GROUP_MS commits at once after its current command, so one turn with a lot of
 * work does not hold its first replies for long. Every reply produced
 * while a group is open (reads too: they may have seen its uncommitted writes) is held until the
 * COMMIT returned; if the commit fails, the in-memory changes of the whole group are undone and
 * the held replies are never sent (their connections are closed: the outcome is unknown to the
 * client, never a false acknowledgement).
 */
export interface WriteGroup {
  /**
   * Runs one write command in its own savepoint of the open group. `undo` holds the command's
   * in-memory undo steps (filled while fn runs): when fn throws they run here, newest first;
   * when it succeeds they join the group's, to revert a failed commit.
   */
  run<T>(fn: () => T, undo: readonly (() => void)[]): T;
  /** Whether writes are waiting for their commit. */
  isOpen(): boolean;
  /**
   * Calls `settled` once the open group committed (no argument) or failed (the error); at once
   * when no group is open.
   */
  afterCommit(settled: (error?: Error) => void): void;
  /** Commits the open group now (also scheduled by itself); used before closing the storage. */
  commit(): void;
}

export interface WriteGroupOptions {
  readonly storage: Storage;
  readonly logger?: Logger | undefined;
  /** Called after every commit with the number of write commands it made durable (metrics, tests). */
  readonly onCommit?: ((commands: number) => void) | undefined;
  /** false: every write command commits on its own (one fsync each), the benchmark's baseline. */
  readonly grouped?: boolean | undefined;
}

/** Longest a group stays open while commands keep running in one turn of the event loop. */
const MAX_GROUP_MS = 10;

export function createWriteGroup(options: WriteGroupOptions): WriteGroup {
  const { storage, logger } = options;
  let undo: (() => void)[] = [];
  let waiters: ((error?: Error) => void)[] = [];
  let commands = 0;
  let scheduled: NodeJS.Immediate | undefined;
  let openedAt = 0;

  /** Undoes the group's in-memory changes (newest first) and fails everything waiting on it. */
  const abandon = (error: Error) => {
    const steps = undo;
    const failed = waiters;
    undo = [];
    waiters = [];
    commands = 0;
    storage.rollback();
    for (let i = steps.length - 1; i >= 0; i--) steps[i]!();
    logger?.error({ err: error }, "embedded store: a group commit failed; its writes were undone");
    for (const settle of failed) settle(error);
  };

  const commit = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (!storage.inGroup()) {
      const ready = waiters;
      waiters = [];
      undo = [];
      commands = 0;
      for (const settle of ready) settle();
      return;
    }
    try {
      storage.commit();
    } catch (error) {
      abandon(error as Error);
      return;
    }
    const ready = waiters;
    const count = commands;
    waiters = [];
    undo = [];
    commands = 0;
    options.onCommit?.(count);
    for (const settle of ready) settle();
  };

  return {
    run(fn, commandUndo) {
      const wasOpen = storage.inGroup();
      if (!wasOpen) openedAt = performance.now();
      let result: ReturnType<typeof fn>;
      try {
        result = storage.transaction(fn);
      } catch (error) {
        for (let i = commandUndo.length - 1; i >= 0; i--) commandUndo[i]!();
        // SQLite rolled the whole transaction back (disk full, I/O error): the group's earlier
        // writes are gone too, so they must not be acknowledged.
        if (wasOpen && !storage.inGroup()) abandon(error as Error);
        else if (storage.inGroup()) scheduled ??= setImmediate(commit);
        throw error;
      }
      undo.push(...commandUndo);
      commands++;
      if (options.grouped === false || performance.now() - openedAt >= MAX_GROUP_MS) commit();
      else scheduled ??= setImmediate(commit);
      return result;
    },
    isOpen: () => storage.inGroup(),
    afterCommit(settled) {
      if (!storage.inGroup()) settled();
      else {
        waiters.push(settled);
        scheduled ??= setImmediate(commit);
      }
    },
    commit,
  };
}
