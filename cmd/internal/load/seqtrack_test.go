package load

import "testing"

func TestSeqTracker(t *testing.T) {
	t.Parallel()
	seq := func(from, to uint64) []uint64 { // [from, to)
		var s []uint64
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	cat := func(parts ...[]uint64) []uint64 {
		var s []uint64
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	for _, tc := range []struct {
		name                      string
		arrivals                  []uint64
		distinct, dups, reordered uint64
	}{
		{"in order", seq(0, 1000), 1000, 0, 0},
		{"gap is not counted here", cat(seq(0, 10), seq(20, 30)), 20, 0, 0},
		{"duplicate of the newest", []uint64{0, 1, 2, 2}, 3, 1, 0},
		{"duplicate within the window", cat(seq(0, 100), []uint64{5, 50, 5}), 100, 3, 0},
		{"late arrival fills its gap", []uint64{0, 1, 3, 2, 4}, 5, 0, 1},
		{"late then duplicated", []uint64{0, 2, 1, 1}, 3, 1, 1},
		{"jump past the window clears it", cat([]uint64{7}, []uint64{7 + 3*seqWindow}, []uint64{7 + 2*seqWindow + 1}), 3, 0, 1},
		// A wrapped-around slot must not be mistaken for a duplicate: 1 and
		// 1+seqWindow share a bit.
		{"slot reuse", cat(seq(0, 2), []uint64{1 + seqWindow, 2 + seqWindow}), 4, 0, 0},
		{"older than the window counts once", cat(seq(0, 3), []uint64{2 * seqWindow, 1}), 5, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr seqTracker
			for _, s := range tc.arrivals {
				tr.observe(s)
			}
			if tr.distinct != tc.distinct || tr.dups != tc.dups || tr.reordered != tc.reordered {
				t.Errorf("distinct/dups/reordered = %d/%d/%d, want %d/%d/%d",
					tr.distinct, tr.dups, tr.reordered, tc.distinct, tc.dups, tc.reordered)
			}
		})
	}
}
