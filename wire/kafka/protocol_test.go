package kafka

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is a Kafka connection driven byte by byte.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func (st *stack) dialRaw(t *testing.T) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", st.kafkaAddr(), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	return &rawConn{t: t, nc: nc}
}

var formatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))

// send writes req at its version with correlation id corr.
func (c *rawConn) send(req kmsg.Request, corr int32) {
	c.t.Helper()
	if _, err := c.nc.Write(formatter.AppendRequest(nil, req, corr)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendFrame writes a frame made of header fields and body bytes as given.
func (c *rawConn) sendFrame(key, version int16, corr int32, body []byte) {
	c.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(key))
	frame = binary.BigEndian.AppendUint16(frame, uint16(version))
	frame = binary.BigEndian.AppendUint32(frame, uint32(corr))
	frame = binary.BigEndian.AppendUint16(frame, 0xFFFF) // null client id
	if flexible := version >= 3 && key == 18; flexible {
		frame = append(frame, 0) // header tag section
	}
	frame = append(frame, body...)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := c.nc.Write(append(out, frame...)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// receive reads one response frame: its correlation id and the rest.
func (c *rawConn) receive() (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return 0, nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// closedByServer asserts that the server closed the connection without
// answering.
func (c *rawConn) closedByServer(what string) {
	c.t.Helper()
	if _, _, err := c.receive(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("%s: want the connection closed, got %v", what, err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// stillServes asserts that a fresh connection gets Metadata answered:
// what closed one connection harmed no other.
func (st *stack) stillServes(t *testing.T) {
	t.Helper()
	c := st.dialRaw(t)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	c.send(req, 77)
	corr, _, err := c.receive()
	if err != nil || corr != 77 {
		t.Fatalf("a new connection after the bad one: corr %d, %v", corr, err)
	}
}

// kgo asks ApiVersions v5 first; a version above ours gets KIP-511's
// answer: the v0 body, UNSUPPORTED_VERSION, and our ApiVersions range, in
// a response header without a tag section.
func TestApiVersionsAboveMaxGetsKIP511Answer(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	for _, v := range []int16{4, 5} {
		c := st.dialRaw(t)
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "kgo", "1.22.2"
		c.send(req, 5)
		corr, body, err := c.receive()
		if err != nil || corr != 5 {
			t.Fatalf("v%d: corr %d, %v", v, corr, err)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(0)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("v%d: answer is not a v0 ApiVersions body: %v", v, err)
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 ||
			resp.ApiKeys[0].MinVersion != 0 || resp.ApiKeys[0].MaxVersion != 3 {
			t.Fatalf("v%d: answer %+v, want error 35 and [{18 0 3}]", v, resp)
		}
	}
}

// Every count in a request is checked against the bytes left: the 7-byte
// ApiVersions v3 body that keeps kmsg's decoder busy for minutes closes
// the connection at once, and the node serves others.
func TestHostileTagCountClosesOnlyThatConnection(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	c := st.dialRaw(t)
	c.sendFrame(18, 3, 1, []byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})
	c.closedByServer("hostile ApiVersions v3 body")
	st.stillServes(t)
}

// A request above MaxRequestBytes closes the connection before anything
// of that size is allocated; so does an API key or version not served.
func TestRequestsRefusedByTheConnection(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true, server: func(c *Config) { c.MaxRequestBytes = 1 << 20 }})
	big := st.dialRaw(t)
	if _, err := big.nc.Write(binary.BigEndian.AppendUint32(nil, 200<<20)); err != nil {
		t.Fatal(err)
	}
	big.closedByServer("a 200 MiB request size")

	for _, kv := range [][2]int16{{71, 0}, {9999, 0}, {1, 13}, {0, 2}} {
		c := st.dialRaw(t)
		c.sendFrame(kv[0], kv[1], 3, nil)
		c.closedByServer("unsupported api key/version")
	}
	st.stillServes(t)
}

// Requests of one connection are answered in order, and a Produce with
// acks=0 gets no answer at all.
func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	st.createTopic("p", 1)
	c := st.dialRaw(t)
	meta := kmsg.NewPtrMetadataRequest()
	meta.SetVersion(1)
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(7)
	produce.Acks = 0
	produce.TimeoutMillis = 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "p"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = recordBatch(t, "hello")
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	c.send(meta, 1)
	c.send(produce, 2)
	c.send(meta, 3)
	for _, want := range []int32{1, 3} {
		corr, _, err := c.receive()
		if err != nil || corr != want {
			t.Fatalf("answer: corr %d (%v), want %d", corr, err, want)
		}
	}
}

// recordBatch is a valid uncompressed RecordBatch v2 with one record,
// encoded by kmsg (trusted bytes, as a producer sends them).
func recordBatch(t *testing.T, value string) []byte {
	t.Helper()
	rec := kmsg.NewRecord()
	rec.Value = []byte(value)
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the length varint itself was 1 byte (0)
	recBytes := rec.AppendTo(nil)
	batch := kmsg.NewRecordBatch()
	batch.Magic = 2
	batch.ProducerID, batch.ProducerEpoch, batch.FirstSequence = -1, -1, -1
	batch.NumRecords = 1
	batch.Records = recBytes
	b := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
