package mqtt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"tributary/mqttcodec"
)

func TestConnectV311RoundTrip(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, msgs := st.dialV3("sub", true, nil)
	waitToken(t, sub.Subscribe("v3/#", 2, nil))
	pub, _ := st.dialV3("pub", true, nil)
	for qos := byte(0); qos <= 2; qos++ {
		waitToken(t, pub.Publish("v3/a", qos, false, []byte{'q', '0' + qos}))
		m := v3Message(t, msgs)
		if m.Topic() != "v3/a" || string(m.Payload()) != string([]byte{'q', '0' + qos}) || m.Qos() != qos {
			t.Fatalf("QoS %d: got topic %q payload %q qos %d", qos, m.Topic(), m.Payload(), m.Qos())
		}
	}
}

func TestConnectV5RoundTrip(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	ack := sub.subscribe(paho.SubscribeOptions{Topic: "v5/+", QoS: 2})
	if len(ack.Reasons) != 1 || ack.Reasons[0] != 2 {
		t.Fatalf("SUBACK reasons %v, want [2]", ack.Reasons)
	}
	pub, _ := st.dialV5("pub", nil)
	for qos := byte(0); qos <= 2; qos++ {
		res := pub.publish(&paho.Publish{Topic: "v5/a", QoS: qos, Payload: []byte{'x', '0' + qos}})
		if qos > 0 && res.ReasonCode != 0 {
			t.Fatalf("QoS %d: acknowledgement reason %#x, want 0", qos, res.ReasonCode)
		}
		m := sub.message()
		if m.Topic != "v5/a" || m.QoS != qos || !bytes.Equal(m.Payload, []byte{'x', '0' + qos}) {
			t.Fatalf("QoS %d: got %q %q qos %d", qos, m.Topic, m.Payload, m.QoS)
		}
	}
}

func TestConnackProperties(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) {
		c.ReceiveMaximum, c.TopicAliasMaximum, c.MaxPacketBytes = 100, 7, 4096
	}})
	_, ack := st.rawConnect("", mqttcodec.V5, func(c *mqttcodec.Connect) {
		c.Properties.SetSessionExpirySeconds(cluster24h + 1)
	})
	p := &ack.Properties
	switch {
	case !p.Has(mqttcodec.PropAssignedClientID) || !strings.HasPrefix(string(p.AssignedClientID), "auto-"):
		t.Errorf("Assigned Client Identifier %q, want auto-… [MQTT-3.2.2-16]", p.AssignedClientID)
	case p.ReceiveMaximum != 100:
		t.Errorf("Receive Maximum %d, want 100", p.ReceiveMaximum)
	case p.TopicAliasMaximum != 7:
		t.Errorf("Topic Alias Maximum %d, want 7", p.TopicAliasMaximum)
	case p.MaximumPacketBytes != 4096:
		t.Errorf("Maximum Packet Size %d, want 4096", p.MaximumPacketBytes)
	case p.Has(mqttcodec.PropMaximumQoS):
		t.Errorf("Maximum QoS %d sent, want absent (QoS 2)", p.MaximumQoS)
	case !p.RetainAvailable || !p.WildcardSubAvailable || !p.SubIDAvailable || !p.SharedSubAvailable:
		t.Errorf("availability flags %+v, want all true", p)
	case !p.Has(mqttcodec.PropSessionExpiry) || p.SessionExpirySeconds != cluster24h:
		t.Errorf("Session Expiry %d (present %v), want the capped %d", p.SessionExpirySeconds,
			p.Has(mqttcodec.PropSessionExpiry), cluster24h)
	case p.Has(mqttcodec.PropServerKeepAlive):
		t.Errorf("Server Keep Alive %d sent, want absent", p.ServerKeepAliveSeconds)
	}
}

// cluster24h is cluster's default MaxSessionExpiry, in seconds.
const cluster24h = 24 * 3600

// [MQTT-3.1.3-8 of 3.1.1]: an empty client identifier needs a clean
// session; otherwise CONNACK return code 2.
func TestConnect_MQTT_3_1_3_8(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	_, ack := st.rawConnect("", mqttcodec.V311, nil)
	if ack.SessionPresent {
		t.Fatal("clean session with an assigned identifier reports a session present")
	}
	r := dialRaw(t, st.addr(), mqttcodec.V311)
	ack = r.connect(&mqttcodec.Connect{})
	if ack.ReasonCode != mqttcodec.ClientIdentifierNotValid {
		t.Fatalf("CONNACK %s, want identifier rejected", ack.ReasonCode)
	}
	r.closed()
}

func TestConnectUnsupportedLevel(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r := dialRaw(t, st.addr(), mqttcodec.V311)
	// "MQTT", level 6, clean start, keep alive 60, client id "x".
	r.write([]byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 1, 'x'})
	ack := expect[*mqttcodec.Connack](r)
	if ack.ReasonCode != mqttcodec.UnsupportedProtocolVersion {
		t.Fatalf("CONNACK %s, want unsupported protocol version (3.1.1 return code 1)", ack.ReasonCode)
	}
	r.closed()
	if got := st.counter("tributary_mqtt_connections_rejected_total", "reason", rejectProtocol); got != 1 {
		t.Fatalf("rejected{protocol} = %v, want 1", got)
	}
}

func TestConnectMalformedV5(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r := dialRaw(t, st.addr(), mqttcodec.V5)
	// The reserved flag of CONNECT set [MQTT-3.1.2-3].
	r.write([]byte{0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x03, 0, 60, 0, 0, 1, 'x'})
	ack := expect[*mqttcodec.Connack](r)
	if ack.ReasonCode != mqttcodec.MalformedPacket {
		t.Fatalf("CONNACK %s, want malformed packet", ack.ReasonCode)
	}
	r.closed()
}

// [MQTT-3.1.0-1]: the first packet must be CONNECT; otherwise the
// connection closes, without a CONNACK.
func TestConnect_MQTT_3_1_0_1(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r := dialRaw(t, st.addr(), mqttcodec.V5)
	r.send(&mqttcodec.Pingreq{})
	if ps := r.closed(); len(ps) != 0 {
		t.Fatalf("server sent %d packets before closing, want none", len(ps))
	}
}

// [MQTT-3.1.0-2]: a second CONNECT is a protocol error.
func TestConnect_MQTT_3_1_0_2(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("twice", mqttcodec.V5, nil)
	r.send(&mqttcodec.Connect{ClientID: []byte("twice")})
	r.closedWith(mqttcodec.ProtocolError)
}

func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.ConnectTimeout = 50 * time.Millisecond }})
	r := dialRaw(t, st.addr(), mqttcodec.V5)
	if ps := r.closed(); len(ps) != 0 {
		t.Fatalf("server sent %d packets to a silent connection", len(ps))
	}
	// A CONNECT that starts but never completes is cut the same way.
	r = dialRaw(t, st.addr(), mqttcodec.V5)
	r.write([]byte{0x10, 0x20, 0, 4})
	r.closed()
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.MaxConnections = 1 }})
	st.rawConnect("first", mqttcodec.V5, nil)

	r := dialRaw(t, st.addr(), mqttcodec.V5)
	if ack := r.connect(&mqttcodec.Connect{ClientID: []byte("second")}); ack.ReasonCode != mqttcodec.QuotaExceeded {
		t.Fatalf("v5 CONNACK %s, want quota exceeded", ack.ReasonCode)
	}
	r.closed()
	r = dialRaw(t, st.addr(), mqttcodec.V311)
	if ack := r.connect(&mqttcodec.Connect{ClientID: []byte("third")}); ack.ReasonCode != mqttcodec.ServerUnavailable {
		t.Fatalf("3.1.1 CONNACK %s, want server unavailable (return code 3)", ack.ReasonCode)
	}
	r.closed()
	if got := st.counter("tributary_mqtt_connections_rejected_total", "reason", rejectMaxConnections); got != 2 {
		t.Fatalf("rejected{max_connections} = %v, want 2", got)
	}
}

func TestServerKeepAlive(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.MaxKeepAlive = 30 * time.Second }})
	for _, asked := range []uint16{0, 120} {
		_, ack := st.rawConnect("ka", mqttcodec.V5, func(c *mqttcodec.Connect) { c.KeepAliveSeconds = asked })
		if ack.Properties.ServerKeepAliveSeconds != 30 {
			t.Fatalf("keep alive %d: Server Keep Alive %d, want 30 [MQTT-3.2.2-21]", asked, ack.Properties.ServerKeepAliveSeconds)
		}
	}
	_, ack := st.rawConnect("ka", mqttcodec.V5, func(c *mqttcodec.Connect) { c.KeepAliveSeconds = 10 })
	if ack.Properties.Has(mqttcodec.PropServerKeepAlive) {
		t.Fatal("Server Keep Alive sent for a keep alive within the maximum")
	}
	r := dialRaw(t, st.addr(), mqttcodec.V311)
	if ack := r.connect(&mqttcodec.Connect{ClientID: []byte("ka3"), KeepAliveSeconds: 60}); ack.ReasonCode != mqttcodec.ClientIdentifierNotValid {
		t.Fatalf("3.1.1 keep alive above the maximum: CONNACK %s, want return code 2", ack.ReasonCode)
	}
}

// passwordAuth accepts user "u" with password "p".
type passwordAuth struct{}

func (passwordAuth) Authenticate(_ context.Context, req AuthRequest) (AuthResult, error) {
	if string(req.Username) == "u" && string(req.Password) == "p" {
		return AuthResult{Code: mqttcodec.Success}, nil
	}
	return AuthResult{Code: mqttcodec.BadUserNameOrPassword, ReasonString: "wrong password"}, nil
}

func TestAuthenticatorRefuses(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.Authenticator = passwordAuth{} }})
	withCreds := func(pass string) func(*mqttcodec.Connect) {
		return func(c *mqttcodec.Connect) {
			c.HasUsername, c.Username, c.HasPassword, c.Password = true, []byte("u"), true, []byte(pass)
		}
	}
	st.rawConnect("good", mqttcodec.V5, withCreds("p"))
	for _, v := range []mqttcodec.Version{mqttcodec.V5, mqttcodec.V311} {
		r := dialRaw(t, st.addr(), v)
		c := &mqttcodec.Connect{ClientID: []byte("bad")}
		withCreds("x")(c)
		ack := r.connect(c)
		if ack.ReasonCode != mqttcodec.BadUserNameOrPassword {
			t.Fatalf("%s: CONNACK %s, want bad user name or password", v, ack.ReasonCode)
		}
		if v == mqttcodec.V5 && string(ack.Properties.ReasonString) != "wrong password" {
			t.Fatalf("Reason String %q, want the authenticator's", ack.Properties.ReasonString)
		}
		r.closed()
	}
}

// challengeAuth is a two-round enhanced authentication: the server sends
// "challenge", the client must answer "response".
type challengeAuth struct{}

func (challengeAuth) Authenticate(_ context.Context, req AuthRequest) (AuthResult, error) {
	if req.Method != "CHALLENGE" {
		return AuthResult{Code: mqttcodec.BadAuthenticationMethod}, nil
	}
	switch {
	case req.Step == 0:
		return AuthResult{Code: mqttcodec.ContinueAuthentication, Data: []byte("challenge"), State: "sent"}, nil
	case req.State == "sent" && string(req.Data) == "response":
		return AuthResult{Code: mqttcodec.Success, Data: []byte("welcome")}, nil
	}
	return AuthResult{Code: mqttcodec.NotAuthorized}, nil
}

func authPacket(code mqttcodec.ReasonCode, method, data string) *mqttcodec.Auth {
	a := &mqttcodec.Auth{ReasonCode: code}
	a.Properties.SetAuthMethod([]byte(method))
	a.Properties.SetAuthData([]byte(data))
	return a
}

func TestEnhancedAuthentication(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.Authenticator = challengeAuth{} }})
	r := dialRaw(t, st.addr(), mqttcodec.V5)
	c := &mqttcodec.Connect{ClientID: []byte("enh"), CleanStart: true}
	c.Properties.SetAuthMethod([]byte("CHALLENGE"))
	r.send(c)
	a := expect[*mqttcodec.Auth](r)
	if a.ReasonCode != mqttcodec.ContinueAuthentication || string(a.Properties.AuthData) != "challenge" ||
		string(a.Properties.AuthMethod) != "CHALLENGE" {
		t.Fatalf("AUTH %s data %q method %q, want continue/challenge/CHALLENGE [MQTT-4.12.0-2]",
			a.ReasonCode, a.Properties.AuthData, a.Properties.AuthMethod)
	}
	r.send(authPacket(mqttcodec.ContinueAuthentication, "CHALLENGE", "response"))
	ack := expect[*mqttcodec.Connack](r)
	if ack.ReasonCode != mqttcodec.Success || string(ack.Properties.AuthMethod) != "CHALLENGE" ||
		string(ack.Properties.AuthData) != "welcome" {
		t.Fatalf("CONNACK %s method %q data %q, want success/CHALLENGE/welcome [MQTT-4.12.0-5]",
			ack.ReasonCode, ack.Properties.AuthMethod, ack.Properties.AuthData)
	}

	// Re-authentication [MQTT-4.12.1-1], interleaved with a PINGREQ.
	r.send(authPacket(mqttcodec.ReAuthenticate, "CHALLENGE", ""))
	if a := expect[*mqttcodec.Auth](r); a.ReasonCode != mqttcodec.ContinueAuthentication {
		t.Fatalf("re-auth: AUTH %s, want continue", a.ReasonCode)
	}
	r.send(&mqttcodec.Pingreq{})
	expect[*mqttcodec.Pingresp](r)
	r.send(authPacket(mqttcodec.ContinueAuthentication, "CHALLENGE", "response"))
	if a := expect[*mqttcodec.Auth](r); a.ReasonCode != mqttcodec.Success {
		t.Fatalf("re-auth: AUTH %s, want success", a.ReasonCode)
	}
	// A failed re-authentication closes the connection [MQTT-4.12.1-2].
	r.send(authPacket(mqttcodec.ReAuthenticate, "CHALLENGE", ""))
	expect[*mqttcodec.Auth](r)
	r.send(authPacket(mqttcodec.ContinueAuthentication, "CHALLENGE", "wrong"))
	r.closedWith(mqttcodec.NotAuthorized)
}

func TestEnhancedAuthenticationRefused(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{}) // AllowAll knows no method
	r := dialRaw(t, st.addr(), mqttcodec.V5)
	c := &mqttcodec.Connect{ClientID: []byte("enh"), CleanStart: true}
	c.Properties.SetAuthMethod([]byte("SCRAM-SHA-256"))
	if ack := r.connect(c); ack.ReasonCode != mqttcodec.BadAuthenticationMethod {
		t.Fatalf("CONNACK %s, want bad authentication method [MQTT-4.12.0-1]", ack.ReasonCode)
	}
	r.closed()

	// Without a method in CONNECT, AUTH is a protocol error [MQTT-4.12.0-7].
	r, _ = st.rawConnect("plain", mqttcodec.V5, nil)
	r.send(authPacket(mqttcodec.ReAuthenticate, "X", ""))
	r.closedWith(mqttcodec.ProtocolError)
}

func TestPahoV5ConnectRefusedReason(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.Authenticator = passwordAuth{} }})
	nc := dialRaw(t, st.addr(), mqttcodec.V5).nc
	c := paho.NewClient(paho.ClientConfig{ClientID: "x", Conn: nc})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "x", UsernameFlag: true, Username: "u", PasswordFlag: true, Password: []byte("no")})
	if err == nil || ack == nil || ack.ReasonCode != byte(mqttcodec.BadUserNameOrPassword) {
		t.Fatalf("connect: %v (CONNACK %+v), want a refusal with 0x86", err, ack)
	}
}

func TestPahoV3ConnectRefused(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.Authenticator = passwordAuth{} }})
	opts := pahomqtt.NewClientOptions().AddBroker("tcp://" + st.addr()).SetClientID("x").
		SetUsername("u").SetPassword("no").SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(waitFor)
	c := pahomqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("connect did not finish")
	}
	if !errors.Is(tok.Error(), packets.ErrorRefusedBadUsernameOrPassword) {
		t.Fatalf("connect: %v, want bad user name or password", tok.Error())
	}
}
