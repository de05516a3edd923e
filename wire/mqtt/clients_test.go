package mqtt

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahomqtt "github.com/eclipse/paho.mqtt.golang"

	"tributary/mqttcodec"
)

// The test clients: a raw one that writes packets built with mqttcodec
// (and bytes no real client would send), paho.golang for MQTT 5 and
// paho.mqtt.golang for 3.1.1.

// rawClient speaks MQTT over a TCP connection, one packet at a time.
type rawClient struct {
	t   testing.TB
	nc  net.Conn
	v   mqttcodec.Version
	rd  []byte // bytes read and not yet returned; returned frames alias it
	buf []byte // read buffer
}

func dialRaw(t testing.TB, addr string, v mqttcodec.Version) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc, v: v}
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawClient) send(p mqttcodec.Packet) {
	r.t.Helper()
	b, err := p.Append(nil, r.v)
	if err != nil {
		r.t.Fatalf("encode %s: %v", p.Type(), err)
	}
	r.write(b)
}

// readFrame returns the next frame, or the error that ended the
// connection.
func (r *rawClient) readFrame() ([]byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(waitFor))
	for {
		n, err := mqttcodec.FrameLen(r.rd, 0)
		if err != nil {
			return nil, err
		}
		if n > 0 && n <= len(r.rd) {
			f := r.rd[:n:n]
			r.rd = r.rd[n:]
			return f, nil
		}
		if r.buf == nil {
			r.buf = make([]byte, 64<<10)
		}
		m, err := r.nc.Read(r.buf)
		r.rd = append(r.rd, r.buf[:m]...)
		if err != nil && m == 0 {
			return nil, err
		}
	}
}

// next returns the next packet the server sent.
func (r *rawClient) next() mqttcodec.Packet {
	r.t.Helper()
	f, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	p, err := mqttcodec.Decode(f, r.v)
	if err != nil {
		r.t.Fatalf("decode % x: %v", f, err)
	}
	return p
}

// expect returns the next packet, which must be a P.
func expect[P mqttcodec.Packet](r *rawClient) P {
	r.t.Helper()
	p := r.next()
	got, ok := p.(P)
	if !ok {
		var want P
		r.t.Fatalf("got %s, want %T", p.Type(), want)
	}
	return got
}

// closed waits until the server closes the connection and returns the
// packets it sent before.
func (r *rawClient) closed() []mqttcodec.Packet {
	r.t.Helper()
	var out []mqttcodec.Packet
	for {
		f, err := r.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("connection still open after %v", waitFor)
			}
			return out
		}
		p, err := mqttcodec.Decode(f, r.v)
		if err != nil {
			r.t.Fatalf("decode % x: %v", f, err)
		}
		out = append(out, p)
	}
}

// closedWith waits for the close and checks that the last packet before
// it was a DISCONNECT with code (MQTT 5).
func (r *rawClient) closedWith(code mqttcodec.ReasonCode) *mqttcodec.Disconnect {
	r.t.Helper()
	ps := r.closed()
	if len(ps) == 0 {
		r.t.Fatalf("closed without DISCONNECT, want DISCONNECT %s", code)
	}
	d, ok := ps[len(ps)-1].(*mqttcodec.Disconnect)
	if !ok || d.ReasonCode != code {
		r.t.Fatalf("last packet before close: %v, want DISCONNECT %s", ps[len(ps)-1].LogValue(), code)
	}
	return d
}

// connect sends c and returns the CONNACK.
func (r *rawClient) connect(c *mqttcodec.Connect) *mqttcodec.Connack {
	r.t.Helper()
	r.send(c)
	return expect[*mqttcodec.Connack](r)
}

// rawConnect dials and connects a raw client; the CONNACK must accept.
func (st *stack) rawConnect(clientID string, v mqttcodec.Version, edit func(*mqttcodec.Connect)) (*rawClient, *mqttcodec.Connack) {
	st.t.Helper()
	r := dialRaw(st.t, st.addr(), v)
	c := &mqttcodec.Connect{ClientID: []byte(clientID), CleanStart: true}
	if edit != nil {
		edit(c)
	}
	ack := r.connect(c)
	if ack.ReasonCode != mqttcodec.Success {
		st.t.Fatalf("CONNACK %s, want success", ack.ReasonCode)
	}
	return r, ack
}

// v5Client is a paho.golang client with its received messages.
type v5Client struct {
	t    testing.TB
	c    *paho.Client
	msgs chan *paho.Publish
	disc chan *paho.Disconnect
}

// dialV5 connects a paho.golang client. edit may change the CONNECT.
func (st *stack) dialV5(clientID string, edit func(*paho.Connect)) (*v5Client, *paho.Connack) {
	t := st.t
	t.Helper()
	nc, err := net.DialTimeout("tcp", st.addr(), waitFor)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	vc := &v5Client{t: t, msgs: make(chan *paho.Publish, 1000), disc: make(chan *paho.Disconnect, 1)}
	vc.c = paho.NewClient(paho.ClientConfig{
		ClientID: clientID,
		Conn:     nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { vc.msgs <- pr.Packet; return true, nil },
		},
		OnServerDisconnect: func(d *paho.Disconnect) { vc.disc <- d },
		OnClientError:      func(error) {},
	})
	cp := &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}
	if edit != nil {
		edit(cp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ack, err := vc.c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("paho connect %q: %v", clientID, err)
	}
	t.Cleanup(func() {
		_ = vc.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		<-vc.c.Done()
	})
	return vc, ack
}

func (vc *v5Client) subscribe(subs ...paho.SubscribeOptions) *paho.Suback {
	return vc.subscribeWith(nil, subs...)
}

func (vc *v5Client) subscribeWith(props *paho.SubscribeProperties, subs ...paho.SubscribeOptions) *paho.Suback {
	vc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ack, err := vc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs, Properties: props})
	if err != nil {
		vc.t.Fatalf("subscribe: %v", err)
	}
	return ack
}

func (vc *v5Client) publish(p *paho.Publish) *paho.PublishResponse {
	vc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := vc.c.Publish(ctx, p)
	if err != nil {
		vc.t.Fatalf("publish: %v", err)
	}
	return res
}

// message returns the next message received.
func (vc *v5Client) message() *paho.Publish {
	vc.t.Helper()
	select {
	case m := <-vc.msgs:
		return m
	case <-time.After(waitFor):
		vc.t.Fatalf("no message within %v", waitFor)
		return nil
	}
}

// noMessage checks that nothing arrives for a short while. It can miss a
// late message, never report a false one.
func (vc *v5Client) noMessage() {
	vc.t.Helper()
	select {
	case m := <-vc.msgs:
		vc.t.Fatalf("unexpected message on %q: %q", m.Topic, m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

// dialV3 connects a paho.mqtt.golang client over MQTT 3.1.1.
func (st *stack) dialV3(clientID string, clean bool, edit func(*pahomqtt.ClientOptions)) (pahomqtt.Client, chan pahomqtt.Message) {
	t := st.t
	t.Helper()
	msgs := make(chan pahomqtt.Message, 1000)
	opts := pahomqtt.NewClientOptions().AddBroker("tcp://" + st.addr()).SetClientID(clientID).
		SetCleanSession(clean).SetAutoReconnect(false).SetProtocolVersion(4).
		SetConnectTimeout(waitFor).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ pahomqtt.Client, m pahomqtt.Message) { msgs <- m })
	if edit != nil {
		edit(opts)
	}
	c := pahomqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("paho v3 connect %q: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, msgs
}

// waitToken waits for a paho.mqtt.golang token and fails on its error.
func waitToken(t testing.TB, tok pahomqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("token not done within %v", waitFor)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("token: %v", err)
	}
}

// v3Message returns the next message of a paho.mqtt.golang client.
func v3Message(t testing.TB, msgs chan pahomqtt.Message) pahomqtt.Message {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
		return nil
	}
}

func ptr[T any](v T) *T { return &v }
