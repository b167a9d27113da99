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
// One table with string keys pk and sk, one overloaded global secondary
// index (gsi1) and a TTL attribute "ttl"; every read the store interfaces
// need is a GetItem, BatchGetItem or Query, never a Scan:
//
//	entity              pk                  sk                        gsi1 (pk / sk)
//	idempotency record  I#wf#step#key       I
//	event item          E#event             L (and L#base log chunks)
//	object index        AX#day              written-at#token
//	pair manifest       U#shard             created#token
//	sweep cursor        SW                  deferred
//	comparison          E#event             C#epoch                   CW#wf / event#epoch
//	aggregate counters  G#wf#shard          minute#epoch#C|P#path|F#fp
//	aggregate exemplars G#wf#x              minute#epoch#R|E#path|G#fp
//	flag                F                   wf
//	flag history        FH#wf               version
//	workflow registry   R                   C|G#wf
//
// The event item holds everything about one event: where it is archived,
// its transition log, its outcome pairs (one per epoch) and the completion
// of the idempotency scopes it held (eventitem.go). So each step of an
// event's life is one single-item write: the start (Registrar), the claim
// (on the idempotency record, which names the holding event), and the
// finish (cutover.Finisher: completion, async side and log at once). A
// shadow event published with its start deferred (cutover.StartDeferrer)
// has no write of its own before it runs: its legacy side and archive
// reference travel in its message and land with its finish. That is two
// write units per shadow event in steady state, plus a share of one object
// index item per archive object; bench/README.md has the figures.
//
// Pairs whose first side is written on its own (not with a finish) are
// named in a manifest first, and pairs of deferred events are found through
// the object index; that is how Unpaired finds one-sided pairs without an
// index entry written and deleted per pair (unpaired.go,
// unpaireddeferred.go).
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
// events/ (Options.ArchiveMaxEvents, Options.ArchiveMaxDelay); a deferred
// event's legacy side is the line after its own. Each object gets one
// object index item (its workflows, id and time ranges, and a Bloom filter
// of its correlation ids), which Events queries; Archive returns once its
// events are durable. Claim-check blobs live under blobs/ named by their
// SHA-256 and are never deleted by cutover.
//
// # Accounting
//
// An SDK middleware counts every HTTP request (retries included: that is
// what AWS bills) by service and operation, and the DynamoDB capacity units
// each request consumed, into Prometheus counters and an in-process
// Snapshot; Cost turns a snapshot into requests per event and dollars per
// million events (cost.go holds every price).
package aws
