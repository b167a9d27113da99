package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
)

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Inspect events and their transition logs"}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show EVENT_ID",
		Short: "Print an event's transition history and the tree of events it belongs to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			stores, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer stores.Close()
			view, err := eventViewFor(cmd.Context(), stores, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(view)
			}
			view.render(cmd.OutOrStdout())
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.AddCommand(show)
	return cmd
}

// eventView is what `events show` prints.
type eventView struct {
	Event   *cutover.Event       `json:"event"`
	State   cutover.EventState   `json:"state"`
	History []cutover.Transition `json:"history"`
	Tree    []*treeNode          `json:"tree"` // roots of the correlation's events
}

type treeNode struct {
	ID       string             `json:"id"`
	Step     string             `json:"step"`
	State    cutover.EventState `json:"state"`
	Children []*treeNode        `json:"children,omitempty"`
}

func eventViewFor(ctx context.Context, stores cutover.Stores, id string) (*eventView, error) {
	ev, err := stores.Archive.Event(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", id, err)
	}
	h, err := stores.Transitions.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("event %s: history: %w", id, err)
	}
	related, err := stores.Archive.Events(ctx, cutover.EventQuery{CorrelationID: ev.CorrelationID, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("event %s: correlation %s: %w", id, ev.CorrelationID, err)
	}
	nodes := map[string]*treeNode{}
	for _, r := range related {
		rh, err := stores.Transitions.History(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("event %s: history: %w", r.ID, err)
		}
		nodes[r.ID] = &treeNode{ID: r.ID, Step: r.Step, State: archivedState(rh)}
	}
	var roots []*treeNode
	for _, r := range related { // ordered by id, so children stay in time order
		n := nodes[r.ID]
		if p, ok := nodes[r.CausationID]; ok {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	return &eventView{Event: ev, State: archivedState(h), History: h, Tree: roots}, nil
}

// archivedState is the state of an archived event with history h. An
// archived event with no history yet is queued: a backend that defers a
// shadow event's start (cutover.StartDeferrer) writes its log when a
// worker first takes it.
func archivedState(h []cutover.Transition) cutover.EventState {
	if len(h) == 0 {
		return cutover.StateQueued
	}
	return cutover.StateOf(h)
}

func (v *eventView) render(w io.Writer) {
	e := v.Event
	fmt.Fprintf(w, "event %s  %s/%s  %s  %s\n", e.ID, e.Workflow, e.Step, e.Mode, v.State)
	fmt.Fprintf(w, "  correlation %s", e.CorrelationID)
	if e.CausationID != "" {
		fmt.Fprintf(w, "  caused by %s", e.CausationID)
	}
	fmt.Fprintf(w, "  key %q  received %s\n", e.IdempotencyKey, e.ReceivedAt.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  %s %s", e.Request.Method, e.Request.Path)
	if e.Request.Query != "" {
		fmt.Fprintf(w, "?%s", e.Request.Query)
	}
	fmt.Fprintf(w, "  (%d byte body)\n\nhistory:\n", max(int64(len(e.Request.Body)), e.Request.BodySize))
	if len(v.History) == 0 {
		fmt.Fprintln(w, "  none yet: queued; the log starts when a worker takes the event")
	}
	for _, t := range v.History {
		var parts []string
		if t.Attempt > 0 {
			parts = append(parts, fmt.Sprintf("attempt %d", t.Attempt))
		}
		if t.Epoch > 0 {
			parts = append(parts, fmt.Sprintf("epoch %d", t.Epoch))
		}
		if t.Delay > 0 {
			parts = append(parts, "backoff "+t.Delay.D().String())
		}
		if t.Worker != "" {
			parts = append(parts, "by "+t.Worker)
		}
		if t.Detail != "" {
			parts = append(parts, t.Detail)
		}
		fmt.Fprintf(w, "  #%-3d %s  %-16s %s\n", t.Seq, t.At.Format("15:04:05.000000"), t.Kind, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\nevents of correlation %s:\n", e.CorrelationID)
	for _, r := range v.Tree {
		renderNode(w, r, "", "", e.ID)
	}
}

func renderNode(w io.Writer, n *treeNode, first, rest, mark string) {
	here := ""
	if n.ID == mark {
		here = "  <- this event"
	}
	fmt.Fprintf(w, "  %s%s  %-20s %s%s\n", first, n.ID, n.Step, n.State, here)
	sort.SliceStable(n.Children, func(i, j int) bool { return n.Children[i].ID < n.Children[j].ID })
	for i, c := range n.Children {
		if i == len(n.Children)-1 {
			renderNode(w, c, rest+"└─ ", rest+"   ", mark)
		} else {
			renderNode(w, c, rest+"├─ ", rest+"│  ", mark)
		}
	}
}
