// Package embedded implements every cutover storage interface on one SQLite
// file (the pure-Go modernc.org/sqlite driver, WAL mode), so that a proxy, a
// worker and the CLI run on one machine with zero services.
//
// # Writes: group commit
//
// One writer goroutine per *DB owns the write connection. Write operations
// are submitted to it; it runs everything waiting (up to Options.MaxBatch)
// in one transaction with one commit, and answers every caller after the
// commit. With durability full (synchronous=FULL) the callers of a batch
// share one fsync of the WAL, and the operations submitted during it gather
// into the next batch, so throughput grows with the number of concurrent
// callers. Conditional checks (versions, epochs, write-once records) run
// inside each operation before it writes: a refused operation writes
// nothing and leaves its batch alone. If an operation fails unexpectedly,
// the batch is rolled back and run again one operation per transaction, so
// only that operation fails. Reads use a separate pool of read-only
// connections beside the writer.
//
// # Several processes
//
// Several processes may open the same file. Every write transaction starts
// with BEGIN IMMEDIATE under a busy timeout and is retried on SQLITE_BUSY;
// every check reads the file inside that transaction. In-process state is
// only ever an optimisation: a long-polling Receive wakes early when this
// process sends to its queue and polls for other processes' sends; the
// writer remembers queues it has seen (queues are never deleted) and keeps
// decoded comparison aggregates, used only while the row's version still
// matches.
//
// # Semantics beyond store.go
//
//   - Queue limits follow SQS so that what works here works on the aws
//     backend: Max 1..10 (0 means 1), Visibility up to 12h (0 means 30s),
//     Delay up to 15m (a Send entry outside it fails in a
//     *cutover.BatchError; the others are sent).
//   - Message.ID is the OutgoingMessage.ID it was sent with (a new id if
//     empty). A message moved to the dead-letter queue keeps its id, body,
//     attributes and SentAt, and starts over at ReceiveCount 1 there.
//   - QueueStats counts a hidden message as in flight once it has been
//     received, as delayed before; OldestAge is the age of the oldest
//     message in the queue.
//   - ExtendLease and Release on a completed key are no-ops; Complete on a
//     completed key is ErrAlreadyRecorded. All three are ErrNotFound for a
//     key never claimed and ErrFenced for an epoch that is not current.
//   - Time ranges (EventQuery, ComparisonQuery, Aggregates) are [Since,
//     Until); a zero bound does not filter. Stored times come back in UTC.
//   - SaveComparison sets a zero ComparedAt to now; SetFlag sets the
//     change's Workflow and Version from the flag, and a zero At to the
//     flag's UpdatedAt.
package embedded
