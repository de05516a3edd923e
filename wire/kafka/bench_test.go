package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
	"tributary/raftstore"
)

// The Kafka benchmarks, each beside a reference measured in the same run
// (README, "Measured"; .ci/bench-kafka runs them and prints the table):
//
//	BenchmarkKafkaFetch/{tributary,kfake,loopback}     consume MQTT-originated records
//	BenchmarkKafkaProduce/{tributary-1p,tributary-4p,pebble-synced}
//	BenchmarkKafkaLatency                              MQTT publish → Kafka consumer vs → MQTT subscriber
//
// They run only with -bench: `go test ./wire/kafka/` builds no fixture.
// Sizes come from the environment so that a smoke run can shrink them:
//
//	BENCH_KAFKA_RECORDS       records of the fetch fixture (default 100000)
//	BENCH_KAFKA_LATENCY_RATE  publishes/s of the latency benchmark (default 200)

const (
	// benchWait bounds every wait of the benchmarks: only a hang fails.
	benchWait = 2 * time.Minute
	// benchTopics is how many distinct MQTT topics the fetch fixture
	// publishes to (its records' keys).
	benchTopics = 1000
	// benchPayloadBytes is the MQTT payload (record value) of the fetch
	// fixture.
	benchPayloadBytes = 128
	// benchProduceValueBytes is the record value of the produce benchmark.
	benchProduceValueBytes = 1024
	// benchPebbleBatchRecords makes the synced Pebble reference write
	// batches of 1 MiB of values.
	benchPebbleBatchRecords = 1 << 20 / benchProduceValueBytes
	// The consumers' fetch sizes, the same for Tributary and kfake: large,
	// so that a fetch is not cut short by the client's defaults (1 MiB per
	// partition).
	benchFetchMaxBytes          = 50 << 20
	benchFetchMaxPartitionBytes = 16 << 20
)

// benchEnvInt returns the positive integer in the environment variable
// name, or def when it is unset.
func benchEnvInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// benchFetchFixture is what the fetch sub-benchmarks share: one stack holding
// records MQTT-originated records in its mirror topic, a kfake cluster
// holding the same records (partition, key, value, headers, in the same
// order), and what one read of them costs on the wire.
type benchFetchFixture struct {
	st      *stack
	fake    *kfake.Cluster
	records int
	// ends is each partition's high watermark, for the raw readers.
	ends        map[int32]int64
	recordBytes int64 // keys + values of all records
	// wireBytes counts the bytes of the Fetch responses a consumer read
	// to get every record from Tributary: the loopback ceiling moves as
	// many.
	wireBytes int64
}

// BenchmarkKafkaFetch reads the whole mirror topic with a fresh kgo
// consumer per iteration: from Tributary, from kfake serving the same
// records, and, as the ceiling, the same number of bytes as Tributary's
// Fetch responses over a loopback TCP connection. Every sub-benchmark
// reports MB/s of record bytes (keys + values) and records/s for one
// iteration reading every record, so their ratios compare directly; wire-MB/s
// is the Fetch response bytes the consumer read per second.
func BenchmarkKafkaFetch(b *testing.B) {
	fx := newBenchFetchFixture(b)
	b.Logf("fixture: %d records, %d record bytes, %d Fetch response bytes from Tributary",
		fx.records, fx.recordBytes, fx.wireBytes)

	b.Run("tributary", func(b *testing.B) {
		benchFetch(b, fx, fx.st.kafkaAddr())
	})
	b.Run("kfake", func(b *testing.B) {
		benchFetch(b, fx, fx.fake.ListenAddrs()...)
	})
	// The raw readers fetch every record over one connection and only walk
	// the batch headers, without decoding records: what the broker serves,
	// with the client's decoding (which dominates kgo's time on 2 cores)
	// taken out.
	b.Run("tributary-raw", func(b *testing.B) {
		benchRawFetch(b, fx, fx.st.kafkaAddr())
	})
	b.Run("kfake-raw", func(b *testing.B) {
		benchRawFetch(b, fx, fx.fake.ListenAddrs()[0])
	})
	// The same records from a store without the batch cache, so every
	// read goes through Pebble, as it does for a consumer far behind the
	// newest records (the fixture fits in the default cache).
	b.Run("tributary-raw-cold", func(b *testing.B) {
		cold := newStack(b, stackOptions{store: func(c *raftstore.Config) { c.KafkaCacheBytes = -1 }})
		benchPublish(b, cold, fx.records)
		benchRawFetch(b, fx, cold.kafkaAddr())
	})
	b.Run("loopback", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		src := make([]byte, 1<<20)
		dst := make([]byte, 1<<20)
		b.SetBytes(fx.recordBytes)
		for b.Loop() {
			benchLoopback(b, ln, fx.wireBytes, src, dst)
		}
		benchReportFetch(b, fx.records, fx.wireBytes*int64(b.N))
	})
}

// benchFetch is one fetch sub-benchmark: each iteration a new consumer
// reads every record of the fixture from seeds.
func benchFetch(b *testing.B, fx *benchFetchFixture, seeds ...string) {
	b.SetBytes(fx.recordBytes)
	var wire int64
	for b.Loop() {
		r := benchConsume(b, seeds, fx.records, false)
		if r.recordBytes != fx.recordBytes {
			b.Fatalf("read %d record bytes, want %d", r.recordBytes, fx.recordBytes)
		}
		wire += r.wireBytes
	}
	benchReportFetch(b, fx.records, wire)
}

// benchRawFetch reads every record of the fixture per iteration with
// Fetch v11 requests on one connection, advancing each partition's offset
// past the last batch of each response.
func benchRawFetch(b *testing.B, fx *benchFetchFixture, addr string) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	b.SetBytes(fx.recordBytes)
	var wire int64
	buf := make([]byte, 0, 64<<20)
	for b.Loop() {
		offsets := map[int32]int64{}
		records := 0
		for corr := int32(1); records < fx.records; corr++ {
			n, got := benchRawFetchOnce(b, nc, corr, offsets, &buf)
			wire += n
			records += got
		}
		if records != fx.records {
			b.Fatalf("raw fetch read %d records, want %d", records, fx.records)
		}
	}
	benchReportFetch(b, fx.records, wire)
}

// benchRawFetchOnce sends one Fetch for every partition at offsets and
// reads the answer, returning its size and the records it held.
func benchRawFetchOnce(b *testing.B, nc net.Conn, corr int32, offsets map[int32]int64, buf *[]byte) (int64, int) {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 500, 1, 50<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "mqtt"
	for p := range int32(4) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offsets[p], 16<<20
		rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	if _, err := nc.Write(formatter.AppendRequest(nil, req, corr)); err != nil {
		b.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		b.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	*buf = slices.Grow((*buf)[:0], n)[:n]
	if _, err := io.ReadFull(nc, *buf); err != nil {
		b.Fatal(err)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(11)
	if err := resp.ReadFrom((*buf)[4:]); err != nil {
		b.Fatalf("fetch response: %v", err)
	}
	records := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			for rest := p.RecordBatches; len(rest) >= kafkacodec.BatchHeaderBytes; {
				h, err := kafkacodec.PeekBatch(rest)
				if err != nil {
					break // a partial batch at the end of a response
				}
				records += int(h.NumRecords)
				offsets[p.Partition] = h.BaseOffset + int64(h.LastOffsetDelta) + 1
				rest = rest[h.Size():]
			}
		}
	}
	return int64(4 + n), records
}

func benchReportFetch(b *testing.B, records int, wire int64) {
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(records)*float64(b.N)/s, "records/s")
	b.ReportMetric(float64(wire)/s/1e6, "wire-MB/s")
}

// newBenchFetchFixture publishes the records through the node, reads them back
// once (checking that all arrived, and measuring the Fetch bytes), and
// produces the same records into a kfake cluster.
func newBenchFetchFixture(b *testing.B) *benchFetchFixture {
	n := benchEnvInt(b, "BENCH_KAFKA_RECORDS", 100000)
	start := time.Now()
	st := newStack(b, stackOptions{})
	fx := &benchFetchFixture{st: st, records: n}
	benchPublish(b, st, n)
	published := time.Since(start)

	first := benchConsume(b, []string{st.kafkaAddr()}, n, true)
	fx.recordBytes, fx.wireBytes = first.recordBytes, first.wireBytes
	fx.ends = map[int32]int64{}
	for _, r := range first.records {
		fx.ends[r.Partition] = max(fx.ends[r.Partition], r.Offset+1)
	}
	if want := benchFixtureBytes(n); fx.recordBytes != want {
		b.Fatalf("the mirror topic holds %d record bytes, want %d", fx.recordBytes, want)
	}

	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "mqtt"))
	if err != nil {
		b.Fatalf("kfake: %v", err)
	}
	b.Cleanup(fake.Close)
	fx.fake = fake
	// Same partitions, same order, and uncompressed, as the batches
	// Tributary builds from MQTT publishes are.
	pr, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	recs := make([]*kgo.Record, len(first.records))
	for i, r := range first.records {
		recs[i] = &kgo.Record{Topic: "mqtt", Partition: r.Partition, Key: r.Key, Value: r.Value,
			Headers: r.Headers, Timestamp: r.Timestamp}
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatalf("produce into kfake: %v", err)
	}
	if r := benchConsume(b, fake.ListenAddrs(), n, false); r.recordBytes != fx.recordBytes {
		b.Fatalf("kfake holds %d record bytes, Tributary %d", r.recordBytes, fx.recordBytes)
	}
	b.Logf("fixture built in %v (publishing %d records: %v)", time.Since(start).Round(time.Millisecond), n, published.Round(time.Millisecond))
	return fx
}

// benchTopic and benchPayload give the fetch fixture's i-th publish.
func benchTopic(i int) string { return fmt.Sprintf("bench/device/%03d/telemetry", i%benchTopics) }

func benchPayload(i int) []byte {
	p := fmt.Appendf(make([]byte, 0, benchPayloadBytes), `{"seq":%d,"reading":"`, i)
	for len(p) < benchPayloadBytes-2 {
		p = append(p, 'a'+byte((i+len(p))%26))
	}
	return append(p, `"}`...)
}

// benchFixtureBytes is the record bytes (keys + values) of n publishes.
func benchFixtureBytes(n int) int64 {
	var sum int64
	for i := range n {
		sum += int64(len(benchTopic(i)) + benchPayloadBytes)
	}
	return sum
}

// benchPublish publishes n QoS 1 messages through the store, as the MQTT
// listener does for a PUBLISH, with up to 4096 in flight, and waits for
// every commit; each becomes a record of the mirror topic.
func benchPublish(b *testing.B, st *stack, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	sem := make(chan struct{}, 4096)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		req := raftstore.PublishRequest{
			ClientID:  fmt.Sprintf("bench-pub-%d", i%16),
			Message:   raftstore.Message{Topic: benchTopic(i), Payload: benchPayload(i), QoS: 1},
			NowMillis: time.Now().UnixMilli(),
		}
		err := st.store.PublishAsync(ctx, req, func(_ raftstore.PublishResult, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
			<-sem
			wg.Done()
		})
		if err != nil {
			b.Fatalf("publish %d: %v", i, err)
		}
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		b.Fatalf("publish: %v", *err)
	}
}

// benchRead is what benchConsume read.
type benchRead struct {
	recordBytes int64
	wireBytes   int64
	records     []*kgo.Record // only when asked to keep them
}

// benchFetchBytes counts the bytes of Fetch responses a client reads.
type benchFetchBytes struct{ n *atomic.Int64 }

func (h benchFetchBytes) OnBrokerRead(_ kgo.BrokerMetadata, key int16, bytesRead int, _, _ time.Duration, _ error) {
	if key == 1 { // Fetch
		h.n.Add(int64(bytesRead))
	}
}

// benchConsume reads the mirror topic from the start with a new kgo
// consumer until want records have arrived, and closes the consumer.
func benchConsume(b *testing.B, seeds []string, want int, keep bool) benchRead {
	var wire atomic.Int64
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("mqtt"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(benchFetchMaxBytes), kgo.FetchMaxPartitionBytes(benchFetchMaxPartitionBytes),
		kgo.WithHooks(benchFetchBytes{&wire}))
	if err != nil {
		b.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	var r benchRead
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("consumed %d of %d records: %v", got, want, ctx.Err())
		}
		for _, e := range fs.Errors() {
			b.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			r.recordBytes += int64(len(rec.Key) + len(rec.Value))
			if keep {
				r.records = append(r.records, rec)
			}
		})
	}
	if got != want {
		b.Fatalf("consumed %d records, want %d", got, want)
	}
	r.wireBytes = wire.Load()
	return r
}

// benchOnlyReader and benchOnlyWriter hide ReadFrom/WriteTo, so that io.CopyBuffer
// really copies through its buffer.
type benchOnlyReader struct{ io.Reader }
type benchOnlyWriter struct{ io.Writer }

// benchLoopback sends total bytes over a new 127.0.0.1 TCP connection
// in writes of len(src) and reads them with io.CopyBuffer into dst.
func benchLoopback(b *testing.B, ln net.Listener, total int64, src, dst []byte) {
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for left := total; left > 0; {
			n, err := c.Write(src[:min(left, int64(len(src)))])
			if err != nil {
				errc <- err
				return
			}
			left -= int64(n)
		}
		errc <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n, err := io.CopyBuffer(benchOnlyWriter{io.Discard}, benchOnlyReader{c}, dst)
	if err != nil || n != total {
		b.Fatalf("loopback read %d of %d bytes: %v", n, total, err)
	}
	if err := <-errc; err != nil {
		b.Fatalf("loopback write: %v", err)
	}
}

// benchValues returns n bytes of incompressible data: kgo compresses
// batches with snappy by default, and zeros would shrink to nothing.
func benchValues(n int) []byte {
	var seed [32]byte
	p := make([]byte, n)
	rand.NewChaCha8(seed).Read(p)
	return p
}

// benchValue is the i-th 1 KiB value out of pool: consecutive values
// differ, so a batch does not compress.
func benchValue(pool []byte, i int) []byte {
	off := (i * benchProduceValueBytes) % (len(pool) - benchProduceValueBytes)
	return pool[off : off+benchProduceValueBytes : off+benchProduceValueBytes]
}

// BenchmarkKafkaProduce produces b.N records of 1 KiB with kgo's default
// producer (idempotent, acks=all, snappy, up to 10,000 records buffered
// and 5 requests in flight) into a new 1- and 4-partition topic of a new
// stack, and, as the reference, writes the same bytes to a new Pebble DB
// as synced batches of 1 MiB from one writer. The stack's store and the
// Pebble DB are both in the benchmark's temporary directory, so on the
// same disk. An op is one record (1 KiB); the time includes the Flush that
// waits for the last acknowledgement.
//
// It uses b.N rather than b.Loop: the wait for the last acknowledgements
// belongs inside the timer, after the loop.
func BenchmarkKafkaProduce(b *testing.B) {
	pool := benchValues(8 << 20)
	for _, partitions := range []int32{1, 4} {
		b.Run(fmt.Sprintf("tributary-%dp", partitions), func(b *testing.B) {
			st := newStack(b, stackOptions{noMirror: true})
			st.createTopic("bench", partitions)
			cl := st.newKgo(kgo.DefaultProduceTopic("bench"))
			ctx, cancel := context.WithTimeout(context.Background(), benchWait)
			defer cancel()
			// Metadata and the producer id, outside the timer.
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: benchValue(pool, 0)}).FirstErr(); err != nil {
				b.Fatalf("first produce: %v", err)
			}
			var acked atomic.Int64
			var firstErr atomic.Pointer[error]
			done := func(_ *kgo.Record, err error) {
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				acked.Add(1)
			}
			b.SetBytes(benchProduceValueBytes)
			b.ResetTimer()
			for i := range b.N {
				cl.Produce(ctx, &kgo.Record{Value: benchValue(pool, i+1)}, done)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatalf("flush: %v", err)
			}
			b.StopTimer()
			if err := firstErr.Load(); err != nil {
				b.Fatalf("produce: %v", *err)
			}
			if acked.Load() != int64(b.N) {
				b.Fatalf("%d of %d records acknowledged", acked.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
	b.Run("pebble-synced", func(b *testing.B) {
		db, err := pebble.Open(filepath.Join(b.TempDir(), "db"), &pebble.Options{Logger: benchPebbleLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		batch := db.NewBatch()
		defer batch.Close()
		var key []byte
		b.SetBytes(benchProduceValueBytes)
		b.ResetTimer()
		for i := range b.N {
			key = binary.BigEndian.AppendUint64(key[:0], uint64(i))
			if err := batch.Set(key, benchValue(pool, i), nil); err != nil {
				b.Fatal(err)
			}
			if int(batch.Count()) == benchPebbleBatchRecords || i == b.N-1 {
				if err := batch.Commit(pebble.Sync); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// benchPebbleLogger keeps Pebble's info logs out of the benchmark output.
type benchPebbleLogger struct{}

func (benchPebbleLogger) Infof(string, ...any) {}
func (benchPebbleLogger) Errorf(f string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+f+"\n", args...)
}
func (benchPebbleLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf("pebble: "+f, args...)) }

// benchLatencies collects the latencies of one path.
type benchLatencies struct {
	mu      sync.Mutex
	warmups int
	lat     []time.Duration
}

func (r *benchLatencies) add(payload []byte, now time.Duration) {
	if len(payload) < 9 {
		return
	}
	sent := time.Duration(binary.BigEndian.Uint64(payload))
	r.mu.Lock()
	defer r.mu.Unlock()
	if payload[8] == 'w' {
		r.warmups++
		return
	}
	r.lat = append(r.lat, now-sent)
}

func (r *benchLatencies) counts() (warmups, measured int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.warmups, len(r.lat)
}

// benchPercentile returns the nearest-rank p-th benchPercentile (0 < p ≤ 100).
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// BenchmarkKafkaLatency publishes QoS 1 MQTT messages at a fixed rate
// (BENCH_KAFKA_LATENCY_RATE, default 200/s) with paho, each carrying its
// send time, and measures how long each takes to reach a kgo consumer of
// the mirror topic and, as the reference in the same run, a paho QoS 1
// subscriber of the MQTT topic. An op is one publish: b.N messages are
// sent, one per tick, so ns/op is the pacing interval and means nothing;
// the figures are kafka-p50-us, kafka-p99-us, mqtt-p50-us and mqtt-p99-us.
// Both paths start after 20 warm-up messages have reached them; the
// consumer uses kgo's default FetchMaxWait (5 s), as a real one does, so
// it sees a record as soon as the broker answers its long poll.
func BenchmarkKafkaLatency(b *testing.B) {
	rate := benchEnvInt(b, "BENCH_KAFKA_LATENCY_RATE", 200)
	const topic, warmups = "bench/latency", 20
	epoch := time.Now()
	st := newStack(b, stackOptions{})

	var viaKafka, viaMQTT benchLatencies
	sub := st.newMQTT("bench-latency-sub")
	tok := sub.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { viaMQTT.add(m.Payload(), time.Since(epoch)) })
	if !tok.WaitTimeout(benchWait) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	cons := st.newKgo(kgo.ConsumeTopics("mqtt"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(5*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	defer func() { cancel(); <-consumed }()
	go func() {
		defer close(consumed)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				if string(r.Key) == topic {
					viaKafka.add(r.Value, time.Since(epoch))
				}
			})
		}
	}()

	pub := st.newMQTT("bench-latency-pub")
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var tokens []paho.Token
	publish := func(kind byte) {
		<-tick.C
		p := make([]byte, 64)
		binary.BigEndian.PutUint64(p, uint64(time.Since(epoch)))
		p[8] = kind
		tokens = append(tokens, pub.Publish(topic, 1, false, p))
	}
	waitUntil := func(what string, warm, measured int) {
		deadline := time.Now().Add(benchWait)
		for {
			kw, km := viaKafka.counts()
			mw, mm := viaMQTT.counts()
			if kw >= warm && mw >= warm && km >= measured && mm >= measured {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: the Kafka consumer got %d+%d messages, the MQTT subscriber %d+%d, want %d+%d",
					what, kw, km, mw, mm, warm, measured)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range warmups {
		publish('w')
	}
	waitUntil("warm-up", warmups, 0)

	for b.Loop() {
		publish('m')
	}
	waitUntil("measured", warmups, b.N)
	for _, t := range tokens {
		if !t.WaitTimeout(benchWait) || t.Error() != nil {
			b.Fatalf("publish: %v", t.Error())
		}
	}
	for _, p := range []struct {
		name string
		r    *benchLatencies
	}{{"kafka", &viaKafka}, {"mqtt", &viaMQTT}} {
		p.r.mu.Lock()
		lat := slices.Clone(p.r.lat)
		p.r.mu.Unlock()
		if len(lat) != b.N {
			b.Fatalf("%s: %d messages for %d publishes", p.name, len(lat), b.N)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(benchPercentile(lat, 50).Microseconds()), p.name+"-p50-us")
		b.ReportMetric(float64(benchPercentile(lat, 99).Microseconds()), p.name+"-p99-us")
	}
}
