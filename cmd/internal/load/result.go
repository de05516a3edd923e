package load

import (
	"fmt"
	"syscall"
	"time"

	"tributary/mqttcodec"
)

// Result is what one load run measured. Rates and latency cover the
// measured window; delivery checks cover the whole run, warm-up included.
type Result struct {
	// Config is the configuration the run used, defaults applied.
	Config Config
	// Window is the measured window as the clock saw it.
	Window time.Duration

	// Published counts the messages written (QoS 0) or acknowledged
	// (QoS 1/2) during the window, over every publisher; PublishedPerSec
	// is Published over Window.
	Published       uint64
	PublishedPerSec float64
	// Received counts the messages subscribers read during the window,
	// duplicates included; ReceivedPerSec is Received over Window.
	Received       uint64
	ReceivedPerSec float64
	// Latency covers the messages sent during the window, wherever in the
	// run they arrived.
	Latency Latency

	// Sent is every message written in the run.
	Sent uint64
	// Expected is the deliveries Sent calls for: each message once to each
	// subscriber of its topic.
	Expected uint64
	// Delivered counts distinct deliveries. Lost counts, summed over every
	// (publisher, subscriber) pair, the messages sent and never delivered.
	Delivered, Lost uint64
	// Duplicated counts deliveries of a message a subscriber already had.
	Duplicated uint64
	// Reordered counts messages that arrived after a later one of the same
	// publisher, which an ordered topic never does [MQTT-4.6.0-6].
	Reordered uint64
	// Refused counts QoS 1/2 publishes the broker answered with an error
	// reason code; Unacked those it had not answered by the end.
	Refused, Unacked uint64
	// Foreign counts messages with no valid header of this run.
	Foreign uint64

	// BrokerCPU and ClientCPU are the processor time the broker (when
	// Config.BrokerPID is set) and this process used during the window.
	BrokerCPU, ClientCPU time.Duration
	// BrokerRSSBytes is the broker's resident memory at the window's end,
	// or 0 without Config.BrokerPID.
	BrokerRSSBytes int64
}

// sample is the counters at one instant.
type sample struct {
	at                   time.Time
	sent, acked          uint64
	received             uint64
	brokerCPU, clientCPU time.Duration
	brokerRSSBytes       int64
}

// sample reads every counter, and the broker's and this process's resource
// use. A /proc read that fails (Run checked the pid first) is logged and
// leaves its figure at 0.
func (r *runner) sample() sample {
	s := sample{at: time.Now()}
	for _, p := range r.pubs {
		s.sent += p.sent.Load()
		s.acked += p.acked.Load()
	}
	for _, sub := range r.subs {
		s.received += sub.received.Load()
	}
	var err error
	if s.clientCPU, err = selfCPU(); err != nil {
		r.log.Warn("cannot read this process's CPU time", "err", err)
	}
	if pid := r.cfg.BrokerPID; pid != 0 {
		if s.brokerCPU, err = processCPU(pid); err != nil {
			r.log.Warn("cannot read the broker's CPU time", "err", err)
		}
		if s.brokerRSSBytes, err = processRSS(pid); err != nil {
			r.log.Warn("cannot read the broker's memory", "err", err)
		}
	}
	return s
}

// result turns the window's samples and the final counters into a Result.
// Every goroutine has stopped, so the subscribers' own state is settled.
func (r *runner) result(s0, s1 sample) Result {
	res := Result{
		Config:         r.cfg,
		Window:         s1.at.Sub(s0.at),
		Published:      s1.acked - s0.acked,
		Received:       s1.received - s0.received,
		BrokerCPU:      s1.brokerCPU - s0.brokerCPU,
		ClientCPU:      s1.clientCPU - s0.clientCPU,
		BrokerRSSBytes: s1.brokerRSSBytes,
	}
	if r.cfg.QoS == mqttcodec.QoS0 {
		res.Published = s1.sent - s0.sent
	}
	if secs := res.Window.Seconds(); secs > 0 {
		res.PublishedPerSec = float64(res.Published) / secs
		res.ReceivedPerSec = float64(res.Received) / secs
	}
	sent := make([]uint64, len(r.pubs))
	for i, p := range r.pubs {
		sent[i] = p.sent.Load()
		res.Sent += sent[i]
		if r.cfg.QoS > mqttcodec.QoS0 {
			refused, acked := p.refused.Load(), p.acked.Load()
			res.Refused += refused
			res.Unacked += sent[i] - min(sent[i], acked+refused)
		}
	}
	var hist histogram
	for _, s := range r.subs {
		hist.merge(&s.hist)
		res.Foreign += s.foreign
		for i := range s.trackers {
			if s.only >= 0 && i != s.only {
				continue
			}
			t := &s.trackers[i]
			res.Expected += sent[i]
			res.Delivered += t.distinct
			res.Lost += sent[i] - min(sent[i], t.distinct)
			res.Duplicated += t.dups
			res.Reordered += t.reordered
		}
	}
	res.Latency = hist.summary()
	return res
}

// fdReserve is the descriptors a run needs besides its connections.
const fdReserve = 64

// checkFDs fails when conns connections would not fit under the process's
// open-file limit. Go raises the soft limit to the hard one at start-up,
// so the message names the hard limit to raise.
func checkFDs(conns int) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("load: read the open-file limit: %w", err)
	}
	if need := uint64(conns) + fdReserve; need > rl.Cur {
		return fmt.Errorf("load: %d connections need %d file descriptors, over the limit of %d (ulimit -n)", conns, need, rl.Cur)
	}
	return nil
}
