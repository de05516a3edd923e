package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/valyala/bytebufferpool"

	"tributary/cluster"
	"tributary/kafkacodec"
)

// conn is one client connection, served by one goroutine: read a request,
// answer it, read the next.
type conn struct {
	srv  *Server
	nc   net.Conn
	id   uint64
	host string // the peer's IP, for DescribeGroups
}

// errClose ends a connection; reason is the metric label, err what is
// logged.
type errClose struct {
	reason string
	err    error
}

func (e *errClose) Error() string { return e.reason + ": " + e.err.Error() }
func (e *errClose) Unwrap() error { return e.err }

func closing(reason string, err error) error { return &errClose{reason: reason, err: err} }

func (c *conn) serve() {
	defer c.srv.forget(c)
	defer func() {
		if r := recover(); r != nil {
			c.srv.metrics.closed.WithLabelValues(closePanic).Inc()
			c.srv.log.Error("kafka connection panicked; closed it", "conn_id", c.id,
				"remote_addr", c.nc.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
		_ = c.nc.Close() // the connection is over either way
	}()
	c.srv.log.Debug("kafka connection open", "conn_id", c.id, "remote_addr", c.nc.RemoteAddr().String())
	var size [4]byte
	for {
		err := c.next(size[:])
		if err == nil {
			continue
		}
		var ec *errClose
		if errors.As(err, &ec) {
			c.srv.metrics.closed.WithLabelValues(ec.reason).Inc()
			c.srv.warned.Warn("kafka connection closed", "conn_id", c.id,
				"remote_addr", c.nc.RemoteAddr().String(), "reason", ec.reason, "err", ec.err)
			return
		}
		c.srv.log.Debug("kafka connection ended", "conn_id", c.id, "err", err)
		return
	}
}

// next reads one request and answers it.
func (c *conn) next(size []byte) error {
	s := c.srv
	if err := c.nc.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.nc, size); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return closing(closeIdle, err)
		}
		return err
	}
	n := int(int32(binary.BigEndian.Uint32(size)))
	if n < minRequestBytes || n > s.cfg.MaxRequestBytes {
		return closing(closeTooLarge, fmt.Errorf("request of %d bytes, limit %d", n, s.cfg.MaxRequestBytes))
	}
	if err := s.inflight.Acquire(s.ctx, int64(n)); err != nil {
		return err
	}
	defer s.inflight.Release(int64(n))
	bb := bytebufferpool.Get()
	defer bytebufferpool.Put(bb)
	if cap(bb.B) < n {
		bb.B = make([]byte, n) // the size is within MaxRequestBytes and the in-flight budget
	}
	bb.B = bb.B[:n]
	if err := c.nc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.nc, bb.B); err != nil {
		return err
	}
	s.metrics.bytesIn.Add(float64(4 + n))
	return c.answer(bb.B)
}

// answer handles one request frame (without its size prefix) and writes
// the response, if any.
func (c *conn) answer(frame []byte) error {
	start := time.Now()
	h, body, err := kafkacodec.ParseRequestHeader(frame)
	if err != nil {
		return closing(reasonFor(err), fmt.Errorf("api_key %d v%d: %w", h.APIKey, h.APIVersion, err))
	}
	out := bytebufferpool.Get()
	defer bytebufferpool.Put(out)
	if h.APIKey == kafkacodec.APIVersionsKey {
		// A version we serve must still be a well-formed request; one above
		// ours gets KIP-511's answer whatever its body (its format is not
		// ours to know).
		if h.APIVersion <= kafkacodec.APIVersionsMax {
			if _, err := kafkacodec.DecodeRequest(h, body); err != nil {
				return closing(reasonFor(err), fmt.Errorf("api_key %d v%d: %w", h.APIKey, h.APIVersion, err))
			}
		}
		out.B = kafkacodec.AppendApiVersionsResponse(out.B[:0], h)
	} else {
		req, err := kafkacodec.DecodeRequest(h, body)
		if err != nil {
			return closing(reasonFor(err), fmt.Errorf("api_key %d v%d: %w", h.APIKey, h.APIVersion, err))
		}
		resp, err := c.srv.cfg.Handler.Handle(c.requestContext(h), req)
		if err != nil {
			return closing(closeHandler, fmt.Errorf("api_key %d v%d: %w", h.APIKey, h.APIVersion, err))
		}
		if f, ok := resp.(*kmsg.FetchResponse); ok {
			if frame, ok := kafkacodec.AppendFetchResponse(out.B[:0], h.CorrelationID, f); ok {
				// The record batches go from the store's buffers to the
				// socket in one writev, without a copy into out.
				out.B = frame.Head
				return c.finish(h, start, func() error { return c.writeBuffers(frame.Buffers()) })
			}
		}
		if resp != nil {
			out.B = kafkacodec.AppendResponse(out.B[:0], h.CorrelationID, resp)
		}
	}
	return c.finish(h, start, func() error {
		if len(out.B) == 0 {
			return nil // no response (Produce with acks=0)
		}
		return c.write(out.B)
	})
}

// finish writes a request's response with write and counts the request.
func (c *conn) finish(h kafkacodec.RequestHeader, start time.Time, write func() error) error {
	m := c.srv.metrics.api(h.APIKey)
	m.requests.Inc()
	if err := write(); err != nil {
		return err
	}
	m.seconds.Observe(time.Since(start).Seconds())
	return nil
}

// requestContext is the server's context carrying the client's id and
// host, which the group coordinator shows in DescribeGroups.
func (c *conn) requestContext(h kafkacodec.RequestHeader) context.Context {
	client := cluster.KafkaClient{Host: c.host}
	if h.ClientID != nil {
		client.ClientID = *h.ClientID
	}
	return cluster.WithKafkaClient(c.srv.ctx, client)
}

func reasonFor(err error) string {
	if errors.Is(err, kafkacodec.ErrUnsupported) {
		return closeUnsupported
	}
	return closeMalformed
}

// writeBuffers writes pieces of one response with one writev.
func (c *conn) writeBuffers(pieces [][]byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	bufs := net.Buffers(pieces)
	n, err := bufs.WriteTo(c.nc)
	c.srv.metrics.bytesOut.Add(float64(n))
	return err
}

func (c *conn) write(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	n, err := c.nc.Write(b)
	c.srv.metrics.bytesOut.Add(float64(n))
	return err
}
