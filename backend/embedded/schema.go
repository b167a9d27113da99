package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations[i] takes the schema from version i to i+1. Append only: a file
// written by this build records the versions it applied in
// schema_migrations, and a later build applies only what is missing.
//
// Tables whose rows carry bodies (events, outcomes, idempotency,
// comparisons, aggregates) are rowid tables: SQLite keeps rows of a few KiB
// inline in their leaves, where a WITHOUT ROWID table would give each an
// overflow page. Small-row tables are WITHOUT ROWID: one b-tree, not two.
var migrations = [][]string{
	{ // 1: the initial schema.
		// Queues and their redrive policy, persisted so that every process
		// applies the same spec.
		`CREATE TABLE queues (
			name        TEXT PRIMARY KEY,
			dead_letter TEXT NOT NULL,
			max_receive INTEGER NOT NULL,
			created_at  INTEGER NOT NULL
		) WITHOUT ROWID`,
		// One row per message. receipt is a random number that changes with
		// every delivery; the receipt handed out is "seq.receipt".
		`CREATE TABLE messages (
			seq           INTEGER PRIMARY KEY,
			queue         TEXT NOT NULL,
			id            TEXT NOT NULL,
			body          BLOB NOT NULL,
			attrs         BLOB,
			sent_at       INTEGER NOT NULL,
			visible_at    INTEGER NOT NULL,
			receive_count INTEGER NOT NULL DEFAULT 0,
			receipt       INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX messages_ready ON messages (queue, visible_at)`,
		`CREATE TABLE idempotency (
			workflow     TEXT NOT NULL,
			step         TEXT NOT NULL,
			key          TEXT NOT NULL,
			payload_hash TEXT NOT NULL,
			event_id     TEXT NOT NULL,
			epoch        INTEGER NOT NULL,
			completed    INTEGER NOT NULL,
			lease_until  INTEGER NOT NULL,
			outcome      BLOB,
			updated_at   INTEGER NOT NULL,
			PRIMARY KEY (workflow, step, key)
		)`,
		`CREATE TABLE transitions (
			event_id TEXT NOT NULL,
			seq      INTEGER NOT NULL,
			kind     TEXT NOT NULL,
			at       INTEGER NOT NULL,
			attempt  INTEGER NOT NULL,
			epoch    INTEGER NOT NULL,
			delay    INTEGER NOT NULL,
			detail   TEXT NOT NULL,
			worker   TEXT NOT NULL,
			PRIMARY KEY (event_id, seq)
		) WITHOUT ROWID`,
		// Events keep their versioned JSON encoding; the columns beside it
		// serve the EventQuery filters.
		`CREATE TABLE events (
			id             TEXT PRIMARY KEY,
			workflow       TEXT NOT NULL,
			step           TEXT NOT NULL,
			correlation_id TEXT NOT NULL,
			received_at    INTEGER NOT NULL,
			data           BLOB NOT NULL
		)`,
		`CREATE INDEX events_workflow ON events (workflow, id)`,
		`CREATE INDEX events_correlation ON events (correlation_id)`,
		`CREATE TABLE outcomes (
			event_id   TEXT NOT NULL,
			epoch      INTEGER NOT NULL,
			workflow   TEXT NOT NULL,
			legacy     BLOB,
			async      BLOB,
			created_at INTEGER NOT NULL,
			complete   INTEGER NOT NULL,
			PRIMARY KEY (event_id, epoch)
		)`,
		// Partial: a pair leaves the index when it completes, so the index
		// holds only what the sweeper looks for.
		`CREATE INDEX outcomes_unpaired ON outcomes (created_at) WHERE complete = 0`,
		`CREATE TABLE comparisons (
			event_id    TEXT NOT NULL,
			epoch       INTEGER NOT NULL,
			workflow    TEXT NOT NULL,
			verdict     TEXT NOT NULL,
			compared_at INTEGER NOT NULL,
			data        BLOB NOT NULL,
			PRIMARY KEY (event_id, epoch)
		)`,
		`CREATE INDEX comparisons_workflow ON comparisons (workflow, event_id)`,
		// One row per workflow, epoch and minute holding a cutover.Aggregate
		// as JSON; version lets a writer trust its decoded copy.
		`CREATE TABLE aggregates (
			workflow TEXT NOT NULL,
			epoch    INTEGER NOT NULL,
			minute   INTEGER NOT NULL,
			version  INTEGER NOT NULL,
			data     BLOB NOT NULL,
			PRIMARY KEY (workflow, epoch, minute)
		)`,
		`CREATE TABLE blobs (
			ref        TEXT PRIMARY KEY,
			data       BLOB NOT NULL,
			created_at INTEGER NOT NULL
		)`,
		`CREATE TABLE flags (
			workflow TEXT PRIMARY KEY,
			version  INTEGER NOT NULL,
			data     BLOB NOT NULL
		)`,
		`CREATE TABLE flag_history (
			workflow TEXT NOT NULL,
			version  INTEGER NOT NULL,
			data     BLOB NOT NULL,
			PRIMARY KEY (workflow, version)
		)`,
	},
	{ // 2: batched intake (see Intake). One row per published batch,
		// deleted when expanded; error is set on one that cannot be.
		`CREATE TABLE intake (
			seq        INTEGER PRIMARY KEY,
			queue      TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			events     INTEGER NOT NULL, -- messages in data, counted by QueueStats
			data       BLOB NOT NULL,
			error      TEXT
		)`,
	},
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the file's schema up to date in one immediate transaction,
// so that processes opening the file at once apply each migration once.
func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err := func() error {
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return err
		}
		var have int
		if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this build knows (%d): upgrade cutover", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			for _, stmt := range migrations[v-1] {
				if _, err := conn.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				v, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		return nil
	}()
	if err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
