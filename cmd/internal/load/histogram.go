package load

import (
	"math/bits"
	"time"
)

// The latency histogram is log-linear, as HdrHistogram's is: values below
// 2^subBits nanoseconds each have a bucket of their own, and every octave
// above, [2^k, 2^(k+1)), is cut into 2^subBits equal buckets. A bucket's
// width is thus at most 1/2^subBits of its lower bound, so any percentile is
// reported within 0.8% of the true value, whatever its magnitude, in a fixed
// array with no allocation per sample.
//
//	value (ns)            bucket index
//	0 .. 127              0 .. 127            width 1
//	128 .. 255            128 .. 255          width 1
//	256 .. 511            256 .. 383          width 2
//	512 .. 1023           384 .. 511          width 4
//	2^k .. 2^(k+1)-1      (k-6)·128 .. +127   width 2^(k-7)
const (
	subBits = 7
	// maxTrackable is the largest latency the buckets tell apart, about 18
	// minutes; a larger sample is counted in the last bucket, while max
	// keeps its exact value.
	maxTrackable = 1<<40 - 1
	numBuckets   = (40-subBits)<<subBits + 1<<subBits
)

// histogram counts latency samples in log-linear buckets. The zero value is
// empty and ready. It is not safe for concurrent use: each subscriber owns
// one, and Run merges them when the subscribers are done.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    uint64 // nanoseconds; overflows only after ~584 years of samples
	min    uint64
	max    uint64
}

// bucketOf returns the bucket index of v, which must be ≤ maxTrackable.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketHigh returns the largest value bucket i holds.
func bucketHigh(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	mantissa := uint64(i&(1<<subBits-1) + 1<<subBits)
	return (mantissa+1)<<shift - 1
}

// record adds one sample. Negative durations, which a clock step could
// produce, count as zero.
func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
	h.counts[bucketOf(min(v, maxTrackable))]++
}

// merge adds every sample of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// quantile returns the upper bound of the bucket that holds the sample of
// rank q·n (0 < q ≤ 1, rounded to the nearest rank as HdrHistogram does),
// clamped to the exact minimum and maximum: HdrHistogram's "highest
// equivalent value". An empty histogram returns 0.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == numBuckets-1 {
				return time.Duration(h.max) // the overflow bucket has no bound
			}
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the exact arithmetic mean, or 0 when empty.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Latency summarises the end-to-end latency of the messages sent during the
// measured window: from the publisher's write to the subscriber's read.
type Latency struct {
	// Samples is the number of messages measured.
	Samples uint64
	// P50 … P999 are percentiles, each the upper bound of the histogram
	// bucket that holds it (within 0.8% above the true value).
	P50, P90, P99, P999 time.Duration
	// Min, Max and Mean are exact.
	Min, Max, Mean time.Duration
}

func (h *histogram) summary() Latency {
	return Latency{
		Samples: h.n,
		P50:     h.quantile(0.50),
		P90:     h.quantile(0.90),
		P99:     h.quantile(0.99),
		P999:    h.quantile(0.999),
		Max:     time.Duration(h.max),
		Min:     time.Duration(h.min),
		Mean:    h.mean(),
	}
}
