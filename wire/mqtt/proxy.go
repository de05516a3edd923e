package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
)

// PROXY protocol v1 and v2 (HAProxy's send-proxy and send-proxy-v2) on the
// MQTT listener, parsed by go-proxyproto.
//
// The header is read by the connection's own goroutine, before the MQTT
// state machine, on the socket itself — not through proxyproto.Listener or
// proxyproto.Conn, for three reasons found in go-proxyproto v0.15.0's
// source:
//
//   - proxyproto.Conn reads the header lazily, on the first Read, Write,
//     RemoteAddr or LocalAddr, so merely logging the remote address of a
//     client that has not spoken yet blocks for the whole header timeout;
//   - under the USE policy (header optional), a header read that times out
//     is reported as ErrNoProxyProtocol and the connection carries on as if
//     no header had been sent: a header that starts and never completes is
//     not cut off, and its bytes reach the MQTT decoder;
//   - it reads through a 256-byte bufio.Reader that may hold the bytes
//     after the header (the CONNECT), which the readiness wait on the raw
//     socket (waitReadable) cannot see, and hides the *net.TCPConn, so
//     every proxied connection — all of them behind a load balancer —
//     would lose the raw wait and its idle-holds-no-buffer property.
//
// Detection itself is go-proxyproto's: proxyproto.Read peeks at one byte
// and goes on only if it is the first byte of a v1 ('P') or v2 ('\r')
// signature, so a client that opens with CONNECT (0x10) is never made to
// wait for bytes it will not send. Here that first byte is read with
// readFirstByte, which parks in the poller holding no buffer. Neither
// signature byte can open an MQTT stream, whose first packet must be a
// CONNECT [MQTT-3.1.0-1], so a signature byte decides: from a trusted
// source the header must then parse and complete within
// ProxyHeaderTimeout of the accept, else the connection is closed; from
// any other source the connection is closed at once, without reading on
// (go-proxyproto's REJECT policy: an untrusted client cannot pick its
// address). Bytes that arrived with the header are kept in conn.pending
// and handled before the next read, so the raw wait stays valid.

// DefaultProxyHeaderTimeout bounds the time from accept to the end of a
// PROXY header. HAProxy sends the header as soon as it connects, in one
// segment; 5s covers a congested link.
const DefaultProxyHeaderTimeout = 5 * time.Second

// proxyReadBufferBytes is the header reader's buffer: go-proxyproto's own
// default, which holds a whole v1 line (at most 107 bytes) — its v1 parser
// refuses a line that does not arrive in one read. A v2 header, up to 16
// bytes plus proxyproto.MaxV2HeaderSize, is read through it in pieces.
const proxyReadBufferBytes = 256

// proxyTrust is what a connection may open with, decided from its socket's
// peer address when it is accepted.
type proxyTrust uint8

const (
	proxyOff       proxyTrust = iota // ProxyProtocolFrom is empty: no header is looked for
	proxyTrusted                     // a header may come (go-proxyproto's USE)
	proxyUntrusted                   // a header closes the connection (go-proxyproto's REJECT)
)

// proxyTrustOf classifies a peer address against ProxyProtocolFrom. An
// address that is not IP is untrusted. IPv4-mapped IPv6 addresses (an
// IPv4 client of a dual-stack socket) are compared as IPv4.
func proxyTrustOf(from []netip.Prefix, peer net.Addr) proxyTrust {
	if len(from) == 0 {
		return proxyOff
	}
	ta, ok := peer.(*net.TCPAddr)
	if !ok {
		return proxyUntrusted
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return proxyUntrusted
	}
	ip = ip.Unmap()
	for _, p := range from {
		if p.Contains(ip) {
			return proxyTrusted
		}
	}
	return proxyUntrusted
}

// validateProxyFrom reports the prefixes Config.Validate refuses.
func validateProxyFrom(from []netip.Prefix) []error {
	var errs []error
	for i, p := range from {
		switch {
		case !p.IsValid():
			errs = append(errs, fmt.Errorf("mqtt: Config.ProxyProtocolFrom[%d] is not a valid prefix", i))
		case p.Addr().Is4In6():
			errs = append(errs, fmt.Errorf("mqtt: Config.ProxyProtocolFrom[%d] %s is IPv4-mapped IPv6; write it as IPv4 (%s/%d)",
				i, p, p.Addr().Unmap(), max(p.Bits()-96, 0)))
		case p != p.Masked():
			errs = append(errs, fmt.Errorf("mqtt: Config.ProxyProtocolFrom[%d] %s has host bits set; did you mean %s?", i, p, p.Masked()))
		}
	}
	return errs
}

// readProxyHeaderSafely is readProxyHeader on the connection's first
// goroutine: a panic in the parser, which reads untrusted bytes, closes
// this connection only.
func (c *conn) readProxyHeaderSafely(accepted time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.panicked("proxy header", r)
		}
	}()
	return c.readProxyHeader(accepted)
}

// readProxyHeader runs before the MQTT state machine on a connection of a
// server with ProxyProtocolFrom set (see the comment at the top of this
// file). On return without error either c.first holds the client's first
// MQTT byte (no header), or the header is consumed, c.remote holds its
// source address and c.pending what followed it.
func (c *conn) readProxyHeader(accepted time.Time) error {
	if err := c.readFirstByte(); err != nil { // under the ConnectTimeout deadline
		return err
	}
	if b := c.first[0]; b != proxyproto.SIGV1[0] && b != proxyproto.SIGV2[0] {
		return nil
	}
	c.hasFirst = false // the byte is the header's
	if c.proxy != proxyTrusted {
		c.srv.metrics.rejected.WithLabelValues(rejectProxyUntrusted).Inc()
		return &closeError{reason: "PROXY header from a source outside ProxyProtocolFrom",
			err: proxyproto.ErrSuperfluousProxyHeader}
	}
	cfg := &c.srv.cfg
	connectDeadline := accepted.Add(cfg.ConnectTimeout)
	if err := c.nc.SetReadDeadline(accepted.Add(min(cfg.ProxyHeaderTimeout, cfg.ConnectTimeout))); err != nil {
		return err
	}
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(c.first[:]), c.nc), proxyReadBufferBytes)
	h, err := proxyproto.Read(br)
	if err != nil {
		return c.badProxyHeader(err)
	}
	if err := c.nc.SetReadDeadline(connectDeadline); err != nil {
		return err
	}
	if n := br.Buffered(); n > 0 {
		c.pending, _ = br.Peek(n) // cannot fail: n bytes are buffered
	}
	c.srv.metrics.proxyHeaders.Inc()
	// As proxyproto.Conn.RemoteAddr: a LOCAL header (the proxy's own
	// health check) or one without a source keeps the socket's peer.
	if !h.Command.IsLocal() && h.SourceAddr != nil {
		c.remote = h.SourceAddr
	}
	c.debug("mqtt proxy header read", "proxy_addr", c.nc.RemoteAddr().String())
	return nil
}

// badProxyHeader counts and describes a header from a trusted source that
// did not parse, or did not complete in time.
func (c *conn) badProxyHeader(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.srv.metrics.rejected.WithLabelValues(rejectProxyTimeout).Inc()
		return &closeError{reason: "PROXY header not complete within ProxyHeaderTimeout", err: err}
	}
	c.srv.metrics.rejected.WithLabelValues(rejectProxyInvalid).Inc()
	return &closeError{reason: "invalid PROXY header", err: err}
}

// remoteAddr is the client's address: the PROXY header's source when one
// was read, else the socket's peer.
func (c *conn) remoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.nc.RemoteAddr()
}
