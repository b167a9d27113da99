package aws

import (
	"fmt"
	"strconv"
	"strings"
)

// archiveRef is where an archived event is: its object and byte range. As
// a string (a DeferredStart's Ref) it is "offset length object".
type archiveRef struct {
	obj      string
	off, len int64
}

func (e archivedEvent) pointer(obj string, off int) archiveRef {
	return archiveRef{obj: obj, off: int64(off), len: int64(len(e.line))}
}

func (r archiveRef) String() string {
	return strconv.FormatInt(r.off, 10) + " " + strconv.FormatInt(r.len, 10) + " " + r.obj
}

func parseArchiveRef(s string) (archiveRef, error) {
	parts := strings.SplitN(s, " ", 3)
	if len(parts) == 3 {
		off, err1 := strconv.ParseInt(parts[0], 10, 64)
		n, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 == nil && err2 == nil && off >= 0 && n > 0 && parts[2] != "" {
			return archiveRef{obj: parts[2], off: off, len: n}, nil
		}
	}
	return archiveRef{}, fmt.Errorf("archive reference %q is not `offset length object`", s)
}

// keep sets the event item's pointer unless it has one: the first
// archived copy stays.
func (r archiveRef) keep(x *expr) string {
	return keepAttr(x, attrObject, avS(r.obj)) + ", " + keepAttr(x, attrOffset, avN(r.off)) + ", " + keepAttr(x, attrLength, avN(r.len))
}
