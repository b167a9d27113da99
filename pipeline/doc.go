// Package pipeline is the worker runtime: it publishes events into per-step
// queues (fan-out, claim checks), and runs workers that receive them, hold an
// idempotency lease, call the step's handler with retries, backoff and lease
// extension, record outcomes and transitions, emit follow-up events, and move
// what cannot succeed to the step's dead-letter queue.
//
// Delivery is at least once; effects are exactly once per (workflow, step,
// key) because every attempt first claims the key with a fencing epoch, and a
// completed key returns its stored outcome instead of running again.
package pipeline
