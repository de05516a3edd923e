package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// applyContext is what a command's apply function may touch: the entry's
// Pebble batch (indexed, so a command reads what earlier commands of the
// same entry wrote) and the raft position of the entry. Nothing else: no
// clock, no randomness, no map iteration (DESIGN.md, "Apply is
// deterministic").
type applyContext struct {
	batch *pebble.Batch
	index uint64
	term  uint64
	// mq collects the MQTT effects of the whole ApplyBatch (index changes,
	// events) until the batch commits.
	mq *mqttBatch
	// bodies counts the message bodies stored by this entry; with index it
	// names each one (newMsgID).
	bodies uint32
	// kq collects the Kafka effects of the whole ApplyBatch, and the MQTT
	// records of this entry (flushed as batches when the entry ends).
	kq *kafkaBatch
	// kafkaFrom is the Kafka topic whose records are being published to
	// MQTT ("" otherwise): MQTT→Kafka mappings skip it, so a record never
	// loops back into the topic it came from.
	kafkaFrom string
	// nq collects the node registry changes of the whole ApplyBatch.
	nq *nodeBatch
}

// applyFunc applies one command. It returns the value the proposer gets, a
// *RejectedError for a command it refuses (deterministically, before
// writing anything), or any other error, which stops the node.
type applyFunc func(a *applyContext, payload []byte) ([]byte, error)

type commandKey struct {
	typ     CommandType
	version uint8
}

// commands is the registry of every (type, version) this binary applies.
// Adding a version is backward compatible only once every node runs a
// binary that knows it; an unknown one stops the node (see ApplyBatch).
var commands = map[commandKey]applyFunc{
	{CmdKVPut, 1}:    applyKVPut,
	{CmdKVDelete, 1}: applyKVDelete,
	{CmdKVAdd, 1}:    applyKVAdd,

	{CmdSessionOpen, 1}:    applySessionOpen,
	{CmdSessionClose, 1}:   applySessionClose,
	{CmdSubscribe, 1}:      applySubscribe,
	{CmdUnsubscribe, 1}:    applyUnsubscribe,
	{CmdPublish, 1}:        applyPublish,
	{CmdReleaseInbound, 1}: applyReleaseInbound,
	{CmdQueueAck, 1}:       applyQueueAck,
	{CmdTick, 1}:           applyTick,
	{CmdPublishBatch, 1}:   applyPublishBatch,

	{CmdCreateTopic, 1}:    applyCreateTopic,
	{CmdDeleteTopic, 1}:    applyDeleteTopic,
	{CmdProduce, 1}:        applyProduce,
	{CmdInitProducerID, 1}: applyInitProducerID,
	{CmdOffsetCommit, 1}:   applyOffsetCommit,
	{CmdMappingSet, 1}:     applyMappingSet,
	{CmdMappingDelete, 1}:  applyMappingDelete,
	{CmdKafkaTrim, 1}:      applyKafkaTrim,

	{CmdNodeRegister, 1}: applyNodeRegister,
	{CmdNodeDown, 1}:     applyNodeDown,
	{CmdNodeForget, 1}:   applyNodeForget,
}

// RejectedError is the answer to a command that committed but that apply
// refused, identically on every replica, without changing any state.
type RejectedError struct {
	Reason string
	// cause, when set, is what errors.Is and errors.As find through the
	// rejection (ErrSessionGone, a malformed payload).
	cause error
}

func (e *RejectedError) Error() string { return "raftstore: command rejected: " + e.Reason }

// Unwrap returns the sentinel behind the rejection, if any.
func (e *RejectedError) Unwrap() error { return e.cause }

func reject(format string, args ...any) error {
	return &RejectedError{Reason: fmt.Sprintf(format, args...)}
}

// rejectErr rejects a command of type cmd because of err, which the
// rejection unwraps to.
func rejectErr(cmd string, err error) error {
	return &RejectedError{Reason: cmd + ": " + err.Error(), cause: err}
}

// ErrUnknownCommand is the root of the fatal error raised when the log holds
// a command type or version this binary does not know.
var ErrUnknownCommand = errors.New("raftstore: unknown command type or version (is a newer binary writing the log? upgrade this node)")

// errStopped answers entries offered to an FSM that already stopped.
var errStopped = errors.New("raftstore: state machine stopped after a fatal error")

// commandResult is apply's answer to one command.
type commandResult struct {
	value []byte
	err   error
}

// fsm is the replicated state machine: one Pebble database, applied one
// batch per ApplyBatch call with the applied index inside the batch, so a
// crash leaves a consistent prefix and replay skips what is already there.
// Writes are not synced: the raft log is the durable copy, and Snapshot
// syncs before raft may truncate the log behind it.
type fsm struct {
	fs     vfs.FS
	dir    string // parent of the database directory
	logger *slog.Logger

	// mu guards db against a swap by Restore. Apply, Snapshot and Restore
	// run on raft's FSM goroutine only; readers take mu.RLock.
	mu sync.RWMutex
	db *pebble.DB

	applied atomic.Uint64 // last entry index applied and visible
	fatal   atomic.Pointer[error]
	onFatal func(error) // called once, on a goroutine of its own
	metrics *metrics
	// mqtt is the in-memory MQTT index (subscriptions, session routing
	// facts); mq collects one ApplyBatch's changes to it until commit.
	mqtt *mqttIndex
	mq   *mqttBatch
	// kafka is the in-memory Kafka index (topics, partition states,
	// mappings); kq collects one ApplyBatch's changes to it until commit.
	kafka *kafkaIndex
	kq    *kafkaBatch
	// nodes is the in-memory node registry; nq collects one ApplyBatch's
	// changes to it until commit.
	nodes *nodeIndex
	nq    *nodeBatch
	// onEvents receives each committed batch's MQTT events (Config.OnEvents).
	onEvents func([]Event)
	// onApplied is told after every change of the applied index (a
	// committed batch, a restored snapshot); it must not block.
	onApplied func()
	// pinned counts Pebble snapshots handed to raft and not yet released;
	// Restore waits for them before it closes the database they read.
	pinned sync.WaitGroup
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
)

// stateCacheBytes is the state database's block cache.
const stateCacheBytes = 256 << 20

// stateMemTableBytes is the state database's memtable. Appended Kafka
// batches share sstables with small keys rewritten all the time (partition
// and producer state, queues), so every flushed file overlaps the last
// ones and compactions rewrite the batches with them; fewer, larger
// flushes rewrite them less often. Measured: BenchmarkKafkaProduce spent
// 43% of its CPU in compactions with Pebble's default 4 MiB.
const stateMemTableBytes = 64 << 20

// fsmDBName is the database directory under the FSM's directory.
const fsmDBName = "db"

func openFSM(fs vfs.FS, dir string, logger *slog.Logger, m *metrics) (*fsm, error) {
	f := &fsm{fs: fs, dir: dir, logger: logger, metrics: m, mqtt: &mqttIndex{}, kafka: newKafkaIndex(), nodes: newNodeIndex()}
	f.mq = newMQTTBatch(f.mqtt)
	f.kq = newKafkaBatch(f.kafka)
	f.nq = newNodeBatch(f.nodes)
	if err := f.recoverSwap(); err != nil {
		return nil, err
	}
	db, applied, err := openStateDB(fs, filepath.Join(dir, fsmDBName), logger)
	if err != nil {
		return nil, err
	}
	if err := f.rebuildIndexes(db); err != nil {
		db.Close()
		return nil, err
	}
	f.db = db
	f.applied.Store(applied)
	return f, nil
}

// openStateDB opens (or creates) a state database and reads its applied
// index, refusing a database written with a newer keyspace format.
func openStateDB(fs vfs.FS, path string, logger *slog.Logger) (*pebble.DB, uint64, error) {
	opts := &pebble.Options{
		FS:     fs,
		Logger: pebbleLogger{logger.With("db", "fsm")},
		// No write-ahead log: the raft log already is one. A crash loses
		// what was not flushed to sstables yet, and replay from the raft
		// log rebuilds it; Snapshot flushes before raft may truncate the
		// log behind it (DESIGN.md, "The state database has no WAL").
		DisableWAL: true,
	}
	// No block compression: Kafka batches are stored as producers sent
	// them (compressed or not, their choice, as Kafka stores them), and a
	// Fetch reads them back at memory speed instead of decoding every
	// block. Measured with BenchmarkKafkaFetch/tributary-raw: snappy
	// decoding took a quarter of the broker's Fetch time.
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// A block cache big enough for the recent records consumers read
	// (Pebble's default is 8 MiB): a miss costs a pread and a fresh block
	// buffer, which showed as a third of Fetch's time.
	opts.CacheSize = stateCacheBytes
	opts.MemTableSize = stateMemTableBytes
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("raftstore: open state db %s: %w", path, err)
	}
	applied, err := readApplied(db)
	if err == nil {
		err = checkFormat(db)
	}
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	return db, applied, nil
}

func readApplied(r pebble.Reader) (uint64, error) {
	v, closer, err := r.Get(keyApplied)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("raftstore: read applied index: %w", err)
	}
	defer closer.Close()
	return decodeIndex(v)
}

func checkFormat(db *pebble.DB) error {
	v, closer, err := db.Get(keyFormat)
	if errors.Is(err, pebble.ErrNotFound) {
		// No WAL (see openStateDB): a flush makes the mark durable.
		if err := db.Set(keyFormat, []byte{keyspaceFormat}, pebble.NoSync); err != nil {
			return fmt.Errorf("raftstore: write keyspace format: %w", err)
		}
		if err := db.Flush(); err != nil {
			return fmt.Errorf("raftstore: flush keyspace format: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftstore: read keyspace format: %w", err)
	}
	defer closer.Close()
	if len(v) != 1 || v[0] > keyspaceFormat {
		return fmt.Errorf("raftstore: state db has keyspace format %v, this binary knows up to %d", v, keyspaceFormat)
	}
	return nil
}

// ApplyBatch applies committed entries in order, in one Pebble batch. Each
// response is a []commandResult for a command entry, nil for a
// configuration entry (which only advances the applied index).
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	resps := make([]any, len(logs))
	if f.fatal.Load() != nil {
		fillErr(resps, errStopped)
		return resps
	}
	start := time.Now() // for the metric only; apply itself never reads a clock
	defer func() { f.metrics.applySeconds.Observe(time.Since(start).Seconds()) }()
	b := f.db.NewIndexedBatch()
	defer b.Close()
	f.mq.reset()
	f.kq.reset()
	f.nq.reset()
	last := f.applied.Load()
	for i, l := range logs {
		if l.Index <= last {
			continue // replay after a restart: already in the database
		}
		if l.Type == raft.LogCommand {
			res, err := f.applyEntry(b, l)
			if err != nil {
				f.stop(fmt.Errorf("raftstore: apply entry %d (term %d): %w", l.Index, l.Term, err))
				fillErr(resps, errStopped)
				return resps
			}
			resps[i] = res
		}
		last = l.Index
	}
	if last == f.applied.Load() {
		return resps
	}
	if err := f.commit(b, last); err != nil {
		f.stop(err)
		fillErr(resps, errStopped)
		return resps
	}
	f.publishMQTT()
	f.publishKafka()
	f.publishNodes()
	return resps
}

// rebuildIndexes rebuilds the in-memory indexes from the database (at
// open and after a restore).
func (f *fsm) rebuildIndexes(db *pebble.DB) error {
	if err := f.mqtt.rebuild(db); err != nil {
		return err
	}
	if err := f.kafka.rebuild(db); err != nil {
		return err
	}
	return f.nodes.rebuild(db)
}

// publishNodes applies the committed batch's registry changes to the
// index. It runs after publishKafka, so whoever NodesChanged wakes reads
// the partition leadership and epochs of the new live set.
func (f *fsm) publishNodes() {
	f.nq.commit()
	f.nq.reset()
}

// publishKafka applies the committed batch's Kafka changes to the index
// (waking fetches whose partition moved) and counts its records.
func (f *fsm) publishKafka() {
	f.kq.commit()
	if n := f.kq.appendedMQTT; n > 0 {
		f.metrics.kafkaRecords.WithLabelValues("mqtt").Add(float64(n))
	}
	if n := f.kq.appendedKafka; n > 0 {
		f.metrics.kafkaRecords.WithLabelValues("kafka").Add(float64(n))
	}
	f.kq.reset()
}

// publishMQTT applies the committed batch's MQTT changes to the index and
// hands its events to onEvents.
func (f *fsm) publishMQTT() {
	events := f.mq.commit()
	f.metrics.queueDropped.Add(float64(f.mq.drops))
	f.mq.reset()
	if len(events) > 0 && f.onEvents != nil {
		f.onEvents(events)
	}
}

func (f *fsm) commit(b *pebble.Batch, last uint64) error {
	if err := b.Set(keyApplied, encodeIndex(last), nil); err != nil {
		return fmt.Errorf("raftstore: stage applied index %d: %w", last, err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("raftstore: commit applied batch up to %d: %w", last, err)
	}
	f.applied.Store(last)
	if f.onApplied != nil {
		f.onApplied()
	}
	return nil
}

func (f *fsm) applyEntry(b *pebble.Batch, l *raft.Log) ([]commandResult, error) {
	a := &applyContext{batch: b, index: l.Index, term: l.Term, mq: f.mq, kq: f.kq, nq: f.nq}
	f.mq.nextEntry()
	f.kq.nextEntry()
	var res []commandResult
	_, err := decodeEntry(l.Data, func(i int, c Command) error {
		if res == nil {
			res = make([]commandResult, 0, 8)
		}
		apply, ok := commands[commandKey{c.Type, c.Version}]
		if !ok {
			return fmt.Errorf("%w: %s v%d", ErrUnknownCommand, c.Type, c.Version)
		}
		v, err := apply(a, c.Payload)
		var rej *RejectedError
		if err != nil && !errors.As(err, &rej) {
			return fmt.Errorf("%s v%d: %w", c.Type, c.Version, err)
		}
		res = append(res, commandResult{value: v, err: err})
		return nil
	})
	if err == nil {
		err = a.flushKafka() // the entry's MQTT records, one batch per partition
	}
	return res, err
}

func fillErr(resps []any, err error) {
	for i := range resps {
		resps[i] = err
	}
}

// stop records the first fatal error and hands it to onFatal. Nothing more
// is applied or snapshotted: the database stays at the last good entry, so
// a restart meets the same entry and stops again instead of diverging.
func (f *fsm) stop(err error) {
	if f.fatal.CompareAndSwap(nil, &err) {
		f.logger.Error("state machine stopped", "err", err, "raft_index", f.applied.Load())
		if f.onFatal != nil {
			go f.onFatal(err)
		}
	}
}

// Err returns the fatal error that stopped the state machine, if any.
func (f *fsm) Err() error {
	if p := f.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// Apply is raft.FSM's single-entry form; raft calls ApplyBatch instead.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// get reads a key of the applied state, copying the value.
func (f *fsm) get(key []byte) ([]byte, bool, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, false, errStopped
	}
	v, closer, err := f.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("raftstore: get: %w", err)
	}
	out := append([]byte(nil), v...) // outlives the Pebble closer
	closer.Close()
	return out, true, nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	// Without a WAL, Close would drop the memtables: flush them, so a
	// clean restart does not replay the log since the last flush.
	ferr := f.db.Flush()
	if ferr != nil {
		ferr = fmt.Errorf("raftstore: flush state db at close: %w", ferr)
	}
	err := f.db.Close()
	f.db = nil
	if err != nil {
		return errors.Join(ferr, fmt.Errorf("raftstore: close state db: %w", err))
	}
	return ferr
}
