package load

// seqWindow is how many sequence numbers behind the newest one a tracker
// remembers, 8 KiB of bits per (publisher, subscriber) pair. A broker
// delivers one publisher's messages in order [MQTT-4.6.0-6], so only a
// duplicate or a reordering reaches back; 65,536 messages is far more than
// the inflight window and the socket buffers hold at once.
const seqWindow = 1 << 16

// seqTracker checks the sequence numbers one subscriber receives from one
// publisher: it counts distinct messages, duplicates and messages that
// arrive after a later one. Memory is fixed, whatever the run's length.
// The zero value is ready. It is used by one goroutine.
type seqTracker struct {
	bits      []uint64 // ring: bit s%seqWindow is set when s was received
	next      uint64   // one past the highest sequence seen; 0 before any
	distinct  uint64
	dups      uint64
	reordered uint64
}

// observe records the arrival of sequence number seq.
func (t *seqTracker) observe(seq uint64) {
	if t.bits == nil {
		t.bits = make([]uint64, seqWindow/64)
	}
	switch {
	case seq >= t.next:
		t.advance(seq)
		t.set(seq)
		t.distinct++
	case t.next-seq > seqWindow:
		// Older than the window: it cannot be told from a duplicate, so it
		// counts as a first delivery, which errs toward reporting no
		// duplicates rather than false ones.
		t.distinct++
		t.reordered++
	case t.isSet(seq):
		t.dups++
	default:
		t.set(seq)
		t.distinct++
		t.reordered++
	}
}

// advance moves the window so that it ends at seq, clearing the bits of the
// sequence numbers that enter it (they still hold those seqWindow earlier).
func (t *seqTracker) advance(seq uint64) {
	from := t.next
	if seq-from >= seqWindow {
		clear(t.bits)
	} else {
		for s := from; s <= seq; s++ {
			t.bits[s%seqWindow/64] &^= 1 << (s % 64)
		}
	}
	t.next = seq + 1
}

func (t *seqTracker) set(seq uint64) { t.bits[seq%seqWindow/64] |= 1 << (seq % 64) }

func (t *seqTracker) isSet(seq uint64) bool { return t.bits[seq%seqWindow/64]&(1<<(seq%64)) != 0 }
