package raftstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Member is one server of the raft configuration.
type Member struct {
	ID      string
	Address string // raft address
	Voter   bool
}

// membershipTimeout bounds one configuration change: raft commits it like
// any entry, so it takes as long as a write.
const membershipTimeout = 10 * time.Second

// Members returns the raft configuration as this node knows it (the latest,
// possibly uncommitted, one).
func (s *Store) Members() ([]Member, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raftstore: read configuration: %w", err)
	}
	servers := f.Configuration().Servers
	out := make([]Member, 0, len(servers))
	for _, sv := range servers {
		out = append(out, Member{ID: string(sv.ID), Address: string(sv.Address), Voter: sv.Suffrage == raft.Voter})
	}
	return out, nil
}

// AddNonvoter adds (or re-addresses) a server that receives the log but
// does not vote, as a joining node starts. Only the leader can.
func (s *Store) AddNonvoter(id, addr string) error {
	return membershipError("add non-voter "+id, s.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout).Error())
}

// AddVoter makes a server a voter (promoting a caught-up non-voter). Only
// the leader can.
func (s *Store) AddVoter(id, addr string) error {
	return membershipError("add voter "+id, s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, membershipTimeout).Error())
}

// RemoveServer removes a server from the configuration. Only the leader
// can; a leader removing itself steps down once the change commits.
func (s *Store) RemoveServer(id string) error {
	return membershipError("remove "+id, s.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout).Error())
}

// TransferLeadership hands leadership to the server id (or, when id is
// empty, to the most up-to-date voter) and waits for the hand-over. Only
// the leader can.
func (s *Store) TransferLeadership(id, addr string) error {
	var f raft.Future
	if id == "" {
		f = s.raft.LeadershipTransfer()
	} else {
		f = s.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	}
	return membershipError("transfer leadership", f.Error())
}

func membershipError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, raft.ErrNotLeader) {
		return fmt.Errorf("raftstore: %s: %w", what, ErrNotLeader)
	}
	return fmt.Errorf("raftstore: %s: %w", what, err)
}

// LastIndex is the index of the last entry in this node's raft log.
func (s *Store) LastIndex() uint64 { return s.raft.LastIndex() }

// CommitIndex is the highest entry this node knows to be committed.
func (s *Store) CommitIndex() uint64 { return s.raft.CommitIndex() }

// NodeID returns this node's raft server ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }
