package mqtt

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/pires/go-proxyproto"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// PROXY protocol on the MQTT listener. Loopback stands for both sides:
// 127.0.0.1 and 127.0.0.2 are distinct sources on Linux, so one is the
// trusted load balancer and the other an untrusted client.

// addrAuth accepts every plain CONNECT and reports the address each one
// came from: the observable the PROXY header must change.
type addrAuth struct{ addrs chan net.Addr }

func (a addrAuth) Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error) {
	select {
	case a.addrs <- req.RemoteAddr:
	default: // a test that does not look does not block the connection
	}
	return AllowAll{}.Authenticate(ctx, req)
}

// proxyStack is a stack whose listener trusts PROXY headers from trusted
// and reports the client addresses its Authenticator sees.
type proxyStack struct {
	*stack
	addrs chan net.Addr
}

func newProxyStack(t testing.TB, trusted string, opts stackOptions) *proxyStack {
	t.Helper()
	addrs := make(chan net.Addr, 16)
	edit := opts.config
	opts.config = func(c *Config) {
		c.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix(trusted)}
		c.Authenticator = addrAuth{addrs: addrs}
		if edit != nil {
			edit(c)
		}
	}
	return &proxyStack{stack: newStack(t, opts), addrs: addrs}
}

// authAddr returns the address the Authenticator saw for the next CONNECT.
func (ps *proxyStack) authAddr() string {
	ps.t.Helper()
	select {
	case a := <-ps.addrs:
		return a.String()
	case <-time.After(waitFor):
		ps.t.Fatalf("no CONNECT authenticated within %v", waitFor)
		return ""
	}
}

// dialFrom opens a TCP connection to addr from the loopback address from.
func dialFrom(t testing.TB, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: waitFor, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// proxyHeader encodes a PROXY header of version (1 or 2) saying that src
// connected to dst.
func proxyHeader(t testing.TB, version byte, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
	var b bytes.Buffer
	if _, err := h.WriteTo(&b); err != nil {
		t.Fatalf("encode PROXY v%d header: %v", version, err)
	}
	return b.Bytes()
}

// pahoV5Over connects a paho.golang client over nc, which may already
// carry a PROXY header, and returns it connected.
func pahoV5Over(t *testing.T, nc net.Conn, clientID string) *v5Client {
	t.Helper()
	vc := &v5Client{t: t, msgs: make(chan *paho.Publish, 100), disc: make(chan *paho.Disconnect, 1)}
	vc.c = paho.NewClient(paho.ClientConfig{
		ClientID: clientID,
		Conn:     nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { vc.msgs <- pr.Packet; return true, nil },
		},
		OnClientError: func(error) {},
	})
	ctx, cancel := contextWithWait()
	defer cancel()
	if _, err := vc.c.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("paho connect %q: %v", clientID, err)
	}
	t.Cleanup(func() {
		_ = vc.c.Disconnect(&paho.Disconnect{})
		<-vc.c.Done()
	})
	return vc
}

// TestProxyV2HeaderSetsRemoteAddr: a trusted load balancer's v2 header,
// then a real MQTT 5 client on the same connection. The server reports
// the header's source as the client's address, and the stream after the
// header is intact both ways. Both reader paths run it: the raw-socket
// wait and the portable one.
func TestProxyV2HeaderSetsRemoteAddr(t *testing.T) {
	t.Parallel()
	for name, hooks := range map[string]testHooks{"raw": {}, "portable": {portable: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ps := newProxyStack(t, "127.0.0.1/32", stackOptions{hooks: hooks})
			nc := dialFrom(t, "127.0.0.1", ps.addr())
			if _, err := nc.Write(proxyHeader(t, 2, "203.0.113.7:4242", ps.addr())); err != nil {
				t.Fatalf("write header: %v", err)
			}
			vc := pahoV5Over(t, nc, "behind-lb")
			if got := ps.authAddr(); got != "203.0.113.7:4242" {
				t.Fatalf("Authenticator saw %s, want the header's source 203.0.113.7:4242", got)
			}
			vc.subscribe(paho.SubscribeOptions{Topic: "lb/echo", QoS: 1})
			vc.publish(&paho.Publish{Topic: "lb/echo", QoS: 1, Payload: []byte("through the proxy")})
			if m := vc.message(); string(m.Payload) != "through the proxy" {
				t.Fatalf("got %q", m.Payload)
			}
			if got := ps.counter("tributary_mqtt_proxy_headers_total"); got != 1 {
				t.Errorf("proxy_headers_total = %v, want 1", got)
			}
			c := ps.connOf(t, "behind-lb")
			if name == "raw" && c.raw == nil {
				t.Error("a proxied connection lost the raw-socket readiness wait")
			}
			if c.pending != nil {
				t.Errorf("%d bytes read with the header still pending after CONNACK", len(c.pending))
			}
		})
	}
}

// TestProxyV1HeaderWithPahoV3: a v1 (text) header in front of a real MQTT
// 3.1.1 client, over IPv6 addresses in the header.
func TestProxyV1HeaderWithPahoV3(t *testing.T) {
	t.Parallel()
	ps := newProxyStack(t, "127.0.0.0/8", stackOptions{})
	header := proxyHeader(t, 1, "[2001:db8::17]:50000", "[2001:db8::1]:1883")
	if !bytes.HasPrefix(header, []byte("PROXY TCP6 2001:db8::17 ")) {
		t.Fatalf("not the v1 header meant: %q", header)
	}
	opts := pahomqtt.NewClientOptions().AddBroker("tcp://" + ps.addr()).SetClientID("v3-behind-lb").
		SetCleanSession(true).SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(waitFor).
		SetCustomOpenConnectionFn(func(u *url.URL, _ pahomqtt.ClientOptions) (net.Conn, error) {
			// paho's goroutine: errors go back to Connect, not to t.
			nc, err := net.DialTimeout("tcp", u.Host, waitFor)
			if err != nil {
				return nil, err
			}
			if _, err := nc.Write(header); err != nil {
				_ = nc.Close()
				return nil, err
			}
			return nc, nil
		})
	c := pahomqtt.NewClient(opts)
	waitToken(t, c.Connect())
	defer c.Disconnect(100)
	if got := ps.authAddr(); got != "[2001:db8::17]:50000" {
		t.Fatalf("Authenticator saw %s, want the header's source [2001:db8::17]:50000", got)
	}
	waitToken(t, c.Publish("v3/x", 1, false, "after a v1 header"))
}

// TestProxyHeaderAndConnectInOneSegment: the header and the CONNECT in
// one write, so the header reader also reads the CONNECT. The server must
// answer it without waiting for more bytes from the client.
func TestProxyHeaderAndConnectInOneSegment(t *testing.T) {
	t.Parallel()
	for name, hooks := range map[string]testHooks{"raw": {}, "portable": {portable: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ps := newProxyStack(t, "127.0.0.1/32", stackOptions{hooks: hooks})
			r := &rawClient{t: t, nc: dialFrom(t, "127.0.0.1", ps.addr()), v: mqttcodec.V5}
			pingreq := []byte{0xc0, 0x00}
			r.write(append(append(proxyHeader(t, 2, "198.51.100.20:1000", ps.addr()), connectBytes(t, "one-segment")...), pingreq...))
			if ack := expect[*mqttcodec.Connack](r); ack.ReasonCode != mqttcodec.Success {
				t.Fatalf("CONNACK %s", ack.ReasonCode)
			}
			expect[*mqttcodec.Pingresp](r)
			if got := ps.authAddr(); got != "198.51.100.20:1000" {
				t.Fatalf("Authenticator saw %s, want 198.51.100.20:1000", got)
			}
		})
	}
}

// TestProxyDirectClientFromTrustedSource: the header is optional, so a
// client on a trusted address connecting directly is served under its
// socket address — and a LOCAL header (a proxy's health check) keeps the
// socket address too.
func TestProxyDirectClientFromTrustedSource(t *testing.T) {
	t.Parallel()
	ps := newProxyStack(t, "127.0.0.1/32", stackOptions{})
	nc := dialFrom(t, "127.0.0.1", ps.addr())
	pahoV5Over(t, nc, "direct")
	if got := ps.authAddr(); got != nc.LocalAddr().String() {
		t.Fatalf("Authenticator saw %s, want the socket's %s", got, nc.LocalAddr())
	}

	local := dialFrom(t, "127.0.0.1", ps.addr())
	var b bytes.Buffer
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	if _, err := h.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	pahoV5Over(t, local, "health-check")
	if got := ps.authAddr(); got != local.LocalAddr().String() {
		t.Fatalf("after a LOCAL header the Authenticator saw %s, want the socket's %s", got, local.LocalAddr())
	}
	if got := ps.counter("tributary_mqtt_proxy_headers_total"); got != 1 {
		t.Errorf("proxy_headers_total = %v, want 1 (the LOCAL one)", got)
	}
}

// TestProxyHeaderFromUntrustedSourceRefused: only 127.0.0.2 is trusted.
// A client on 127.0.0.1 that sends a header — trying to pass for another
// address — is closed before its CONNECT is read; the same client without
// a header is served under its own address.
func TestProxyHeaderFromUntrustedSourceRefused(t *testing.T) {
	t.Parallel()
	ps := newProxyStack(t, "127.0.0.2/32", stackOptions{})
	for _, version := range []byte{1, 2} {
		r := &rawClient{t: t, nc: dialFrom(t, "127.0.0.1", ps.addr()), v: mqttcodec.V5}
		r.write(append(proxyHeader(t, version, "192.0.2.99:1", ps.addr()), connectBytes(t, "spoofer")...))
		if got := r.closed(); len(got) != 0 {
			t.Fatalf("v%d header from an untrusted source: got %v before the close, want nothing", version, got[0].LogValue())
		}
	}
	if got := ps.counter("tributary_mqtt_connections_rejected_total", "reason", "proxy_untrusted"); got != 2 {
		t.Errorf(`rejected_total{reason="proxy_untrusted"} = %v, want 2`, got)
	}
	select {
	case a := <-ps.addrs:
		t.Fatalf("the Authenticator was asked about %s", a)
	default:
	}

	nc := dialFrom(t, "127.0.0.1", ps.addr())
	pahoV5Over(t, nc, "untrusted-direct")
	if got := ps.authAddr(); got != nc.LocalAddr().String() {
		t.Fatalf("Authenticator saw %s, want the socket's %s", got, nc.LocalAddr())
	}
	trusted := dialFrom(t, "127.0.0.2", ps.addr())
	if _, err := trusted.Write(proxyHeader(t, 2, "192.0.2.99:1", ps.addr())); err != nil {
		t.Fatal(err)
	}
	pahoV5Over(t, trusted, "trusted")
	if got := ps.authAddr(); got != "192.0.2.99:1" {
		t.Fatalf("Authenticator saw %s for the trusted source, want 192.0.2.99:1", got)
	}
}

// TestProxyHeaderTimeout: a header that starts and never completes is cut
// off after ProxyHeaderTimeout, well before ConnectTimeout; a direct
// client that is slower than ProxyHeaderTimeout to send its CONNECT is
// not, since its first byte is not a header's.
func TestProxyHeaderTimeout(t *testing.T) {
	t.Parallel()
	ps := newProxyStack(t, "127.0.0.1/32", stackOptions{config: func(c *Config) {
		c.ProxyHeaderTimeout = 100 * time.Millisecond
		c.ConnectTimeout = time.Minute
	}})
	stalled := &rawClient{t: t, nc: dialFrom(t, "127.0.0.1", ps.addr()), v: mqttcodec.V5}
	stalled.write(proxyHeader(t, 2, "192.0.2.1:1", ps.addr())[:10])
	stalled.closed() // fails after waitFor (10s) if only ConnectTimeout (1 min) applied
	if got := ps.counter("tributary_mqtt_connections_rejected_total", "reason", "proxy_timeout"); got != 1 {
		t.Errorf(`rejected_total{reason="proxy_timeout"} = %v, want 1`, got)
	}

	slow := &rawClient{t: t, nc: dialFrom(t, "127.0.0.1", ps.addr()), v: mqttcodec.V311}
	time.Sleep(3 * 100 * time.Millisecond) // past ProxyHeaderTimeout, inside ConnectTimeout
	if ack := slow.connect(&mqttcodec.Connect{ClientID: []byte("slow"), CleanStart: true}); ack.ReasonCode != mqttcodec.Success {
		t.Fatalf("slow direct client: CONNACK %s", ack.ReasonCode)
	}
}

// TestProxyInvalidHeaderClosesOnlyItsConnection: headers that do not
// parse close their connection, and a client connected all along is still
// served.
func TestProxyInvalidHeaderClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	ps := newProxyStack(t, "127.0.0.1/32", stackOptions{})
	control, _ := ps.rawConnect("control", mqttcodec.V5, nil)
	<-ps.addrs
	for name, data := range invalidProxyHeaders(t) {
		r := &rawClient{t: t, nc: dialFrom(t, "127.0.0.1", ps.addr()), v: mqttcodec.V5}
		r.write(append(bytes.Clone(data), connectBytes(t, "bad-header")...))
		if got := r.closed(); len(got) != 0 {
			t.Fatalf("%s: got %v before the close, want nothing", name, got[0].LogValue())
		}
		control.send(&mqttcodec.Pingreq{})
		expect[*mqttcodec.Pingresp](control)
	}
	if got, want := ps.counter("tributary_mqtt_connections_rejected_total", "reason", "proxy_invalid"), float64(len(invalidProxyHeaders(t))); got != want {
		t.Errorf(`rejected_total{reason="proxy_invalid"} = %v, want %v`, got, want)
	}
}

// invalidProxyHeaders are inputs that start like a PROXY header and are
// not a valid one.
func invalidProxyHeaders(t testing.TB) map[string][]byte {
	v2 := proxyHeader(t, 2, "192.0.2.1:1", "192.0.2.2:2")
	tooLong := bytes.Clone(v2)
	tooLong[14], tooLong[15] = 0xff, 0xff // length 65535, above proxyproto.MaxV2HeaderSize
	badCommand := bytes.Clone(v2)
	badCommand[12] = 0x2f
	badFamily := bytes.Clone(v2)
	badFamily[13] = 0x13
	return map[string][]byte{
		"v2-length-too-long": tooLong,
		"v2-bad-command":     badCommand,
		"v2-bad-family":      badFamily,
		"v1-no-crlf":         []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n"),
		"v1-bad-address":     []byte("PROXY TCP4 999.0.2.1 192.0.2.2 1 2\r\n"),
		"v1-wrong-word":      []byte("PROXYZ TCP4 192.0.2.1 192.0.2.2 1 2\r\n"),
		"v1-too-long":        []byte("PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n"),
		"cr-not-v2":          []byte("\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c"),
	}
}

// FuzzProxyHeader sends random bytes as a trusted load balancer's first
// bytes and checks that the server neither crashes nor hangs on them — the
// connection ends once the client stops sending — and that a client
// connected all along is still served.
func FuzzProxyHeader(f *testing.F) {
	connect := connectBytes(f, "fuzz")
	for _, h := range [][]byte{
		proxyHeader(f, 1, "192.0.2.1:1", "192.0.2.2:2"),
		proxyHeader(f, 2, "192.0.2.1:1", "192.0.2.2:2"),
		proxyHeader(f, 2, "[2001:db8::1]:1", "[2001:db8::2]:2"),
	} {
		f.Add(h)
		f.Add(append(bytes.Clone(h), connect...))
		f.Add(h[:len(h)/2])
	}
	for _, h := range invalidProxyHeaders(f) {
		f.Add(h)
	}
	f.Add(connect)
	f.Add([]byte("P"))
	f.Add([]byte("\r"))
	ps := newProxyStack(f, "127.0.0.1/32", stackOptions{})
	control, _ := ps.rawConnect("control", mqttcodec.V5, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := dialFrom(t, "127.0.0.1", ps.addr())
		_, _ = nc.Write(data) // the server may have closed already
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // the server reads EOF after the data
		}
		drain(t, &rawClient{t: t, nc: nc, v: mqttcodec.V5})
		control.t = t
		control.send(&mqttcodec.Pingreq{})
		expect[*mqttcodec.Pingresp](control)
	})
}

// connectBytes encodes a clean MQTT 5 CONNECT of clientID.
func connectBytes(t testing.TB, clientID string) []byte {
	t.Helper()
	b, err := (&mqttcodec.Connect{ClientID: []byte(clientID), CleanStart: true}).Append(nil, mqttcodec.V5)
	if err != nil {
		t.Fatalf("encode CONNECT: %v", err)
	}
	return b
}

// TestProxyTrustOf: peers are matched unmapped, and only TCP peers count.
func TestProxyTrustOf(t *testing.T) {
	t.Parallel()
	from := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, tc := range []struct {
		peer net.Addr
		want proxyTrust
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 1}, proxyTrusted},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 1}, proxyTrusted},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::5"), Port: 1}, proxyTrusted},
		{&net.TCPAddr{IP: net.ParseIP("11.0.0.1"), Port: 1}, proxyUntrusted},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:11.0.0.1"), Port: 1}, proxyUntrusted},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, proxyUntrusted},
	} {
		if got := proxyTrustOf(from, tc.peer); got != tc.want {
			t.Errorf("proxyTrustOf(%v) = %d, want %d", tc.peer, got, tc.want)
		}
	}
	if got := proxyTrustOf(nil, &net.TCPAddr{IP: net.ParseIP("10.1.2.3")}); got != proxyOff {
		t.Errorf("with no prefixes: %d, want proxyOff", got)
	}
}

func TestConfigValidateProxy(t *testing.T) {
	t.Parallel()
	node := new(cluster.Node) // Validate only checks that it is set
	err := Config{Node: node, ProxyHeaderTimeout: -time.Second, ProxyProtocolFrom: []netip.Prefix{
		{}, netip.MustParsePrefix("10.1.2.3/16"), netip.MustParsePrefix("::ffff:10.0.0.0/104"), netip.MustParsePrefix("10.0.0.0/8"),
	}}.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad PROXY settings")
	}
	for _, want := range []string{
		"ProxyHeaderTimeout is negative",
		"ProxyProtocolFrom[0] is not a valid prefix",
		"ProxyProtocolFrom[1] 10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?",
		"ProxyProtocolFrom[2] ::ffff:10.0.0.0/104 is IPv4-mapped IPv6; write it as IPv4 (10.0.0.0/8)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "ProxyProtocolFrom[3]") {
		t.Errorf("Validate refused the valid 10.0.0.0/8:\n%v", err)
	}
	good := Config{Node: node, ProxyProtocolFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate of good PROXY settings: %v", err)
	}
}
