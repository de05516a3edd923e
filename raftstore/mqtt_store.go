package raftstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// The Store's MQTT API (see mqtt.go for the types). Command methods
// propose one command; read methods read this node's applied state.

// TickMaxSessions bounds the sessions one Tick settles, so that a mass
// expiry becomes several entries rather than one huge one: while
// NextDeadline is still at or before now, tick again.
const TickMaxSessions = 1024

// OpenSession claims o.ClientID for a connection and answers how the
// session continues (present, taken over) and the connection's generation.
func (s *Store) OpenSession(ctx context.Context, o SessionOpen) (SessionOpened, error) {
	v, err := s.Propose(ctx, sessionOpenCommand(&o))
	if err != nil {
		return SessionOpened{}, err
	}
	res, err := decodeSessionOpened(v)
	if err != nil {
		return res, fmt.Errorf("raftstore: session-open result: %w", err)
	}
	return res, nil
}

// CloseSession ends the connection c.Generation's hold on its session. A
// close for a generation that no longer holds the session is ignored.
func (s *Store) CloseSession(ctx context.Context, c SessionClose) error {
	_, err := s.Propose(ctx, sessionCloseCommand(&c))
	return err
}

// Subscribe adds or replaces subscriptions. It fails with an error that
// errors.Is ErrSessionGone when r.Generation no longer holds the session.
func (s *Store) Subscribe(ctx context.Context, r SubscribeRequest) (SubscribeResult, error) {
	v, err := s.Propose(ctx, subscribeCommand(&r))
	if err != nil {
		return SubscribeResult{}, err
	}
	res, err := decodeSubscribeResult(v)
	if err != nil {
		return res, fmt.Errorf("raftstore: subscribe result: %w", err)
	}
	return res, nil
}

// Unsubscribe removes subscriptions and reports, per filter, whether it
// existed (MQTT 5's 0x11 No subscription existed). It fails with an error
// that errors.Is ErrSessionGone when r.Generation no longer holds the
// session.
func (s *Store) Unsubscribe(ctx context.Context, r UnsubscribeRequest) (existed []bool, err error) {
	v, err := s.Propose(ctx, unsubscribeCommand(&r))
	if err != nil {
		return nil, err
	}
	if existed, err = decodeExisted(v); err != nil {
		return nil, fmt.Errorf("raftstore: unsubscribe result: %w", err)
	}
	return existed, nil
}

// PublishAsync queues a publish; done gets its result once it has
// committed (see ProposeAsync for when done is called and what it must not
// do).
func (s *Store) PublishAsync(ctx context.Context, r PublishRequest, done func(PublishResult, error)) error {
	return s.ProposeAsync(ctx, publishCommand(&r), func(v []byte, err error) {
		if err != nil {
			done(PublishResult{}, err)
			return
		}
		res, err := decodePublishResult(v)
		if err != nil {
			err = fmt.Errorf("raftstore: publish result: %w", err)
		}
		done(res, err)
	})
}

// Publish stores, retains and routes a message and waits for the commit.
func (s *Store) Publish(ctx context.Context, r PublishRequest) (PublishResult, error) {
	v, err := s.Propose(ctx, publishCommand(&r))
	if err != nil {
		return PublishResult{}, err
	}
	res, err := decodePublishResult(v)
	if err != nil {
		return res, fmt.Errorf("raftstore: publish result: %w", err)
	}
	return res, nil
}

// ReleaseInboundAsync forgets an inbound QoS 2 packet id (the client's
// PUBREL arrived), so the id may carry a new message. Releasing an id not
// recorded is not an error.
func (s *Store) ReleaseInboundAsync(ctx context.Context, clientID string, packetID uint16, done func(error)) error {
	return s.ProposeAsync(ctx, releaseInboundCommand(clientID, packetID), func(_ []byte, err error) { done(err) })
}

// AckQueueAsync removes or marks queue entries of a persistent session.
// Acknowledgements of a generation that no longer holds the session, and
// of seqs not in the queue, are ignored.
func (s *Store) AckQueueAsync(ctx context.Context, a QueueAck, done func(error)) error {
	return s.ProposeAsync(ctx, queueAckCommand(&a), func(_ []byte, err error) { done(err) })
}

// Tick fires the wills and expires the sessions whose deadline is at or
// before nowMillis, up to TickMaxSessions sessions.
func (s *Store) Tick(ctx context.Context, nowMillis int64) error {
	_, err := s.Propose(ctx, tickCommand(nowMillis, TickMaxSessions))
	return err
}

// NextDeadline returns the earliest will or session expiry deadline in
// this node's state (Unix ms), and false when there is none (or the state
// cannot be read: the store has stopped).
func (s *Store) NextDeadline() (millis int64, ok bool) {
	f := s.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return 0, false
	}
	err := scanRange(f.db, []byte{tableDeadline}, []byte{tableDeadline + 1}, func(k, _ []byte) (bool, error) {
		var err error
		millis, _, err = parseDeadlineKey(k)
		ok = err == nil
		return false, err
	})
	if err != nil {
		f.logger.Error("read next mqtt deadline", "err", err)
		return 0, false
	}
	return millis, ok
}

// ReadQueue returns up to max entries of clientID's queue with a seq above
// afterSeq, in seq order, with their messages (copies the caller owns;
// entries of one message share one *Message, so treat it as read-only).
// Dup is set on an entry an earlier connection may have sent. Expired
// messages are included: the caller skips them. A client without a
// session has an empty queue.
func (s *Store) ReadQueue(clientID string, afterSeq uint64, max int) ([]QueuedMessage, error) {
	if max <= 0 {
		return nil, errors.New("raftstore: ReadQueue max must be positive")
	}
	f := s.fsm
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, errStopped
	}
	snap := f.db.NewSnapshot() // one consistent view of entries and bodies
	defer snap.Close()
	v, closer, err := snap.Get(sessionKey(clientID))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: read session %q: %w", clientID, err)
	}
	sess, err := decodeSessionRecord(v)
	closer.Close()
	if err != nil || afterSeq == ^uint64(0) {
		return nil, err
	}
	return readEntries(snap, clientID, afterSeq, max, sess.sentThrough)
}

func readEntries(r pebble.Reader, clientID string, afterSeq uint64, max int, sentThrough uint64) ([]QueuedMessage, error) {
	var out []QueuedMessage
	bodies := make(map[msgID]*Message)
	upper := prefixEnd(clientPrefix(tableQueue, clientID, 0))
	err := scanRange(r, queueKey(clientID, afterSeq+1), upper, func(k, v []byte) (bool, error) {
		e, err := decodeQueueEntry(v)
		if err != nil {
			return false, err
		}
		seq, err := decodeU64(k[len(k)-8:], "queue seq")
		if err != nil {
			return false, err
		}
		m := bodies[e.msg]
		if m == nil {
			if m, err = readBody(r, e.msg); err != nil {
				return false, err
			}
			bodies[e.msg] = m
		}
		out = append(out, QueuedMessage{
			Seq:             seq,
			QoS:             e.qos,
			Retain:          e.retain,
			Dup:             e.qos > 0 && seq <= sentThrough, // [MQTT-3.3.1-1]; never on QoS 0 [MQTT-3.3.1-2]
			Received:        e.received,
			SubscriptionIDs: e.subIDs,
			Message:         m,
		})
		return len(out) < max, nil
	})
	return out, err
}

func readBody(r pebble.Reader, id msgID) (*Message, error) {
	v, closer, err := r.Get(bodyKey(id))
	if err != nil {
		return nil, fmt.Errorf("raftstore: read message %x: %w", id, err)
	}
	defer closer.Close()
	m, err := decodeBody(v)
	if err != nil {
		return nil, err
	}
	return cloneMessage(m), nil // v belongs to Pebble
}

// Session returns clientID's session as this node last applied it.
func (s *Store) Session(clientID string) (SessionInfo, bool, error) {
	x := s.fsm.mqtt
	x.mu.RLock()
	defer x.mu.RUnlock()
	v, ok := x.sessions[clientID]
	if !ok {
		return SessionInfo{}, false, s.Err()
	}
	return v.info(clientID), true, s.Err()
}

// ConnectedSessions returns the sessions whose connection node holds, by
// client id (for instance to close them all when node is lost).
func (s *Store) ConnectedSessions(node string) ([]SessionInfo, error) {
	x := s.fsm.mqtt
	x.mu.RLock()
	var out []SessionInfo
	for id, v := range x.sessions {
		if v.connected && v.node == node {
			out = append(out, v.info(id))
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(out, func(a, b SessionInfo) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out, s.Err()
}

// Match calls fn for every session a message published to topic by
// publisherID would be routed to, as this node last applied the
// subscriptions, without the log: for QoS 0. Overlapping non-shared
// subscriptions of a session give one Route (merged as Route says; a No
// Local subscription of the publisher's own client id takes no part); each
// matching shared subscription gives one Route to one member, chosen
// round-robin among its connected members (all members if none is). It
// may be called from any goroutine, concurrently with apply; fn is called
// after the index lock is released, so it may call the Store.
func (s *Store) Match(topic, publisherID string, fn func(Route)) {
	for _, r := range s.fsm.mqtt.match(topic, publisherID) {
		fn(r)
	}
}
