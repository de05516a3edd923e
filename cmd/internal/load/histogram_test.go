package load

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestBucketsAreContiguous walks every bucket: each one's upper bound maps
// back to it, the next value opens the next bucket, and the width never
// exceeds 1/128 of the bucket's values.
func TestBucketsAreContiguous(t *testing.T) {
	t.Parallel()
	lo := uint64(0)
	for i := range numBuckets {
		hi := bucketHigh(i)
		if hi < lo {
			t.Fatalf("bucket %d: high %d below low %d", i, hi, lo)
		}
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d (low end)", lo, got, i)
		}
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d (high end)", hi, got, i)
		}
		if width := hi - lo + 1; lo >= 1<<subBits && width*(1<<subBits) > lo {
			t.Fatalf("bucket %d [%d,%d]: width %d exceeds 1/%d of its values", i, lo, hi, width, 1<<subBits)
		}
		lo = hi + 1
	}
	if lo-1 != maxTrackable {
		t.Fatalf("the last bucket ends at %d, want maxTrackable %d", lo-1, uint64(maxTrackable))
	}
}

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	t.Parallel()
	var h histogram
	// 1..100,000 µs, in a shuffled order: the p-quantile is p·100,000 µs.
	const n = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(n) {
		h.record(time.Duration(i+1) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 99.9 * 1e6}} {
		got := h.quantile(tc.q)
		// Upper bucket bounds: never below the true value, at most 1/128 above.
		if got < tc.want || float64(got-tc.want) > float64(tc.want)/(1<<subBits) {
			t.Errorf("quantile(%v) = %v, want %v within +%.2f%%", tc.q, got, tc.want, 100.0/(1<<subBits))
		}
	}
	s := h.summary()
	if s.Samples != n || s.Min != time.Microsecond || s.Max != n*time.Microsecond {
		t.Errorf("summary samples/min/max = %d/%v/%v, want %d/1µs/100ms", s.Samples, s.Min, s.Max, n)
	}
	if want := time.Duration(n+1) * time.Microsecond / 2; s.Mean != want {
		t.Errorf("mean = %v, want %v", s.Mean, want)
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	t.Parallel()
	var empty histogram
	if s := empty.summary(); s != (Latency{}) {
		t.Errorf("empty summary = %+v, want zero", s)
	}

	var h histogram
	h.record(-time.Second) // a clock step backwards
	h.record(time.Hour)    // beyond maxTrackable: clamped bucket, exact max
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("p50 of {0, 1h} = %v, want 0", got)
	}
	if got := h.quantile(1); got != time.Hour {
		t.Errorf("p100 of {0, 1h} = %v, want the exact max 1h", got)
	}

	var one histogram
	one.record(1234567 * time.Nanosecond)
	for _, q := range []float64{0.01, 0.5, 1} {
		if got := one.quantile(q); got != 1234567 {
			t.Errorf("quantile(%v) of one sample = %d, want it exactly (clamped to min and max)", q, got)
		}
	}
}

func TestHistogramMergeEqualsRecordingAll(t *testing.T) {
	t.Parallel()
	var a, b, all histogram
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 10_000 {
		d := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var merged histogram
	merged.merge(&a)
	merged.merge(&b)
	merged.merge(&histogram{}) // merging an empty one changes nothing
	if merged != all {
		t.Errorf("merge(a, b) = %+v, want %+v", merged.summary(), all.summary())
	}
}
