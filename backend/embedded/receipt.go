package embedded

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover"
)

// A receipt names one delivery: the message's row and the random number
// drawn when it was received.
func formatReceipt(seq, token int64) string {
	return strconv.FormatInt(seq, 36) + "." + strconv.FormatUint(uint64(token), 36)
}

func parseReceipt(s string) (seq, token int64, err error) {
	a, b, ok := strings.Cut(s, ".")
	if ok {
		seq, err = strconv.ParseInt(a, 36, 64)
		if err == nil {
			var u uint64
			u, err = strconv.ParseUint(b, 36, 64)
			token = int64(u)
		}
	}
	if !ok || err != nil || token == 0 {
		return 0, 0, fmt.Errorf("receipt %q is malformed: %w", s, cutover.ErrStaleReceipt)
	}
	return seq, token, nil
}
