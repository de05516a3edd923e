package raftstore

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// Log truncation is driven by log length, counted two ways: raft itself
// snapshots after SnapshotThreshold entries and then keeps TrailingLogs of
// them; and watchLogSize snapshots when the log passes MaxLogBytes, first
// lowering TrailingLogs so that what stays behind is about
// TrailingLogBytes. Entry counts alone would let a log of large entries
// (Kafka batches) grow without bound between snapshots.

func (s *Store) watchLogSize() {
	defer s.bgDone.Done()
	t := time.NewTicker(s.cfg.LogCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopBg:
			return
		case <-t.C:
			s.truncateIfLarge()
		}
	}
}

// truncateIfLarge takes a snapshot when the log holds more than
// MaxLogBytes, so raft can compact it.
func (s *Store) truncateIfLarge() {
	size := s.logs.LogBytes()
	if size <= s.cfg.MaxLogBytes {
		return
	}
	first, err1 := s.logs.FirstIndex()
	last, err2 := s.logs.LastIndex()
	if err := errors.Join(err1, err2); err != nil || last < first {
		return
	}
	trailing := trailingFor(size, last-first+1, s.cfg)
	if last-first+1 <= trailing {
		return // nothing a snapshot could remove
	}
	if err := s.setTrailingLogs(trailing); err != nil {
		s.logger.Warn("cannot lower trailing logs", "err", err)
		return
	}
	// Raft's own count-triggered snapshots keep the configured count again.
	defer func() {
		if err := s.setTrailingLogs(s.cfg.TrailingLogs); err != nil {
			s.logger.Warn("cannot restore trailing logs", "err", err)
		}
	}()
	s.logger.Info("raft log past its byte budget; snapshotting", "log_bytes", size, "max_log_bytes", s.cfg.MaxLogBytes, "trailing_logs", trailing)
	err := s.raft.Snapshot().Error()
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		s.logger.Warn("size-triggered snapshot failed", "err", err)
	}
}

func (s *Store) setTrailingLogs(n uint64) error {
	rc := s.raft.ReloadableConfig()
	if rc.TrailingLogs == n {
		return nil
	}
	rc.TrailingLogs = n
	return s.raft.ReloadConfig(rc)
}

// trailingFor is how many entries to keep after a truncation so that they
// hold about TrailingLogBytes, given the log's current average entry size;
// never more than TrailingLogs, never fewer than 64.
func trailingFor(size int64, entries uint64, cfg Config) uint64 {
	avg := max(size/int64(entries), 1)
	n := uint64(cfg.TrailingLogBytes / avg)
	return min(max(n, 64), cfg.TrailingLogs)
}
