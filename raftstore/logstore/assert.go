package logstore

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/raft"
)

// assertEncoded panics unless v decodes back to l with running total cum. It
// is the write-side half of the paired check whose read side is the checksum
// and index check in parseEntry; it runs only in invariants builds.
func assertEncoded(v []byte, l *raft.Log, cum uint64) {
	var got raft.Log
	gotCum, err := decodeEntry(v, &got)
	switch {
	case err != nil:
		panic(fmt.Sprintf("logstore: entry %d does not decode: %v", l.Index, err))
	case gotCum != cum, got.Index != l.Index, got.Term != l.Term, got.Type != l.Type,
		!got.AppendedAt.Equal(l.AppendedAt),
		!bytes.Equal(got.Data, l.Data), !bytes.Equal(got.Extensions, l.Extensions):
		panic(fmt.Sprintf("logstore: entry %d does not round-trip", l.Index))
	}
}
