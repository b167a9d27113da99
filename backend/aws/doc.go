// Package aws implements every cutover storage interface on Amazon SQS,
// DynamoDB and S3, for when one machine is not enough: many proxies and
// workers share one set of queues, one table and one bucket.
//
// # Queues (SQS)
//
// Each cutover queue is the SQS queue queue_prefix+name, with a native
// redrive policy to its dead-letter queue. Sends, deletes and visibility
// changes are batched: concurrent single-entry calls on one queue are
// coalesced into SendMessageBatch, DeleteMessageBatch and
// ChangeMessageVisibilityBatch requests (Options.BatchWindow), so a worker
// that acknowledges one message per finished job still pays about one
// request per ten messages. Receives always ask for ten messages and keep
// what the caller did not want for its next call (Options.DisablePrefetch),
// since a worker asks only for as many as it has free slots. Every Failed
// entry of a batch is retried with
// backoff when SQS says it was not the sender's fault and reported in a
// *cutover.BatchError otherwise. Bodies that are not valid SQS text travel
// base64-encoded, and attributes SQS cannot carry natively travel as one
// JSON attribute; DecodeMessage undoes both (the Lambda entrypoint uses it).
//
// SQS has no attribute for the age of the oldest message, so QueueStats
// reports what this process observed: the age now of the oldest message
// handed out by its latest non-empty receive from the queue, while the
// queue is not empty; 0 when the queue is empty or this process has not
// received from it. See Queue.QueueStats.
//
// # State (DynamoDB, one table)
//
// One table with string keys pk and sk, two overloaded global secondary
// indexes (gsi1, gsi2) and a TTL attribute "ttl"; every read the store
// interfaces need is a GetItem, BatchGetItem or Query, never a Scan:
//
//	entity              pk                  sk                        gsi1 (pk / sk)              gsi2 (pk / sk)
//	idempotency record  I#wf#step#key       I
//	transition log      E#event             L (and L#base chunks)
//	archive index       E#event             A                         EW#wf / event               EC#correlation / event
//	outcome pair        E#event             O#epoch                   U#shard / created#event#ep  (only while one-sided)
//	comparison          E#event             C#epoch                   CW#wf / event#epoch
//	aggregate counters  G#wf#shard          minute#epoch#C|P#path|F#fp
//	aggregate exemplars G#wf#x              minute#epoch#R|E#path|G#fp
//	flag                F                   wf
//	flag history        FH#wf               version
//	workflow registry   R                   E|C|G#wf
//
// Conditional writes carry a random token, so that a write retried after
// its response was lost (the SDK retries 5xx answers) recognises itself in
// the conditional-check failure instead of reporting a conflict with itself.
// Outcomes and comparisons larger than Options.ItemInlineLimit are stored in
// S3 as content-addressed blobs and read back transparently. Records that
// expire carry ttl = last write + Options.Retention; flags and their history
// never expire.
//
// # Objects (S3)
//
// Archived events are buffered and written as JSON-lines objects under
// events/ (Options.ArchiveMaxEvents, Options.ArchiveMaxDelay), and each
// event gets a small index item pointing at its byte range; Archive returns
// once its events are durable. Claim-check blobs live under blobs/ named by
// their SHA-256 and are never deleted by cutover.
//
// # Accounting
//
// An SDK middleware counts every HTTP request (retries included: that is
// what AWS bills) by service and operation, and the DynamoDB capacity units
// each request consumed, into Prometheus counters and an in-process
// Snapshot; Cost turns a snapshot into requests per event and dollars per
// million events (cost.go holds every price).
package aws
