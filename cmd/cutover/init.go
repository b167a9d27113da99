package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/aws"
	"github.com/cutover-dev/cutover/pipeline"
)

func newInitCmd(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the backend's resources: queues, dead-letter queues with redrive, table, bucket",
		Long: `For the aws backend: creates every step's SQS queue and DLQ (with a redrive policy), the DynamoDB
table (keys, indexes, TTL) and the S3 bucket. Running it again is fine. --dry-run prints what it
would create. For the embedded backend it creates the database file and its queues.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cfg.Backend.Kind == cutover.BackendAWS {
				return aws.Init(cmd.Context(), cfg, dryRun, out)
			}
			if dryRun {
				fmt.Fprintf(out, "would create %s with these queues:\n", cfg.Backend.Path)
				for _, q := range pipeline.Topology(cfg) {
					fmt.Fprintf(out, "  %s\n", q.Name)
				}
				return nil
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			if err := pipeline.EnsureTopology(cmd.Context(), stores.Queue, cfg); err != nil {
				return err
			}
			fmt.Fprintf(out, "ready: %s with %d queues\n", cfg.Backend.Path, len(pipeline.Topology(cfg)))
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be created; create nothing")
	return cmd
}
