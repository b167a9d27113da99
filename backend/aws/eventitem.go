package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover"
)

// The event item (pk E#event, sk L) holds everything cutover records about
// one event, so that each step of its life is one write on one item:
//
//   - its transition log: version v, entries log, base (see transitions.go);
//   - its outcome pairs, one per epoch: ol_N / olr_N and oa_N / oar_N (each
//     side inline or in S3), the tokens of the writes that recorded them
//     (tl_N, ta_N), when the first side arrived (c_N), the token of the
//     write that completed the pair (cby_N), and the workflow wf;
//   - the completion of each idempotency scope the event held: where its
//     outcome is (id_H, naming the attributes), the token of the completing
//     write (ik_H), the fence (if_H, the lowest epoch still allowed to
//     complete it), and the outcome itself (io_H / ir_H) unless it is the
//     async side of a pair recorded in the same write. H is a hash of the
//     scope (workflow, step, key).
//
// Keeping the completion with the event rather than in the idempotency
// record is what lets a successful attempt end in one single-item write
// (complete, async outcome and log at once, cutover.Finisher) instead of a
// transaction, which DynamoDB bills at twice the units per item.

// scopeAttrs names the completion attributes of one idempotency scope on an
// event item.
type scopeAttrs struct{ done, tok, fence, out, ref string }

func scopeOf(k cutover.IdempotencyKey) scopeAttrs {
	sum := sha256.Sum256([]byte(k.Workflow + "\x00" + k.Step + "\x00" + k.Key))
	h := hex.EncodeToString(sum[:5])
	return scopeAttrs{done: "id_" + h, tok: "ik_" + h, fence: "if_" + h, out: "io_" + h, ref: "ir_" + h}
}

// sideAttrs names the attributes of one side of the pair of one epoch.
type sideAttrs struct{ out, ref, tok string }

// pairAttrs names the attributes of the pair of one epoch.
type pairAttrs struct {
	legacy, async   sideAttrs
	created, compBy string
}

func pairOf(epoch int) pairAttrs {
	n := "_" + strconv.Itoa(epoch)
	return pairAttrs{
		legacy:  sideAttrs{"ol" + n, "olr" + n, "tl" + n},
		async:   sideAttrs{"oa" + n, "oar" + n, "ta" + n},
		created: "c" + n, compBy: "cby" + n,
	}
}

// sides returns the attributes of side and of the other side.
func (p pairAttrs) sides(side cutover.Side) (mine, other sideAttrs) {
	if side == cutover.SideLegacy {
		return p.legacy, p.async
	}
	return p.async, p.legacy
}

// hasSide reports whether it holds the side named by a.
func (it item) hasSide(a sideAttrs) bool { return it.has(a.out) || it.has(a.ref) }

// completionAttrs returns the attributes that hold the outcome a scope was
// completed with, as recorded in its done attribute.
func (it item) completionAttrs(sc scopeAttrs) (out, ref string, ok bool) {
	v := it.s(sc.done)
	if v == "" {
		return "", "", false
	}
	out, ref, _ = strings.Cut(v, " ")
	return out, ref, true
}
