package mqtt

import (
	"context"
	"net"

	"tributary/mqttcodec"
)

// Authenticator decides whether a client may connect. It is called on the
// connection's goroutine, once per authentication step, so it may block
// (on a user database, say) until ctx ends; ctx ends at the connection's
// ConnectTimeout, or at server shutdown.
//
// A plain CONNECT is one step. MQTT 5 enhanced authentication [MQTT-4.12]
// is a sequence: the CONNECT names an Authentication Method, and every
// step whose result is ContinueAuthentication sends the client an AUTH
// (0x18) carrying AuthResult.Data; the client's answering AUTH is the next
// step, with AuthRequest.State holding what the previous step returned in
// AuthResult.State. The same sequence runs for re-authentication, which
// the client starts with AUTH 0x19 after CONNACK; an Authenticator that
// does not support it refuses with a reason code (NotAuthorized, say) and
// the connection is closed with that code.
type Authenticator interface {
	Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error)
}

// AuthRequest is one authentication step. Its byte slices alias the
// connection's frame buffer: they are valid only during the call, and an
// Authenticator that keeps one must copy it.
type AuthRequest struct {
	// ClientID is the client identifier of the CONNECT; for a client that
	// sent none, the identifier the server assigned.
	ClientID string
	// ProtocolVersion is the MQTT protocol level: 3, 4 or 5.
	ProtocolVersion byte
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// Username and Password are the CONNECT's (nil when absent). They are
	// present only on the first step of a connection.
	Username []byte
	Password []byte
	// Method is the MQTT 5 Authentication Method; "" for a plain CONNECT.
	Method string
	// Data is the Authentication Data of this step (CONNECT or AUTH).
	Data []byte
	// Step is 0 for the CONNECT (or the AUTH that starts a
	// re-authentication) and counts the client's AUTH packets after it.
	Step int
	// Reauthenticate is true for a re-authentication after CONNACK.
	Reauthenticate bool
	// State is the previous step's AuthResult.State (nil at step 0).
	State any
}

// AuthResult is an Authenticator's answer to one step.
type AuthResult struct {
	// Code is Success to accept, ContinueAuthentication to send Data to
	// the client in an AUTH and wait for its next step (MQTT 5 with a
	// Method only), or the reason to refuse: BadUserNameOrPassword,
	// NotAuthorized, BadAuthenticationMethod, Banned… A refusal is sent in
	// the CONNACK (MQTT 3 gets the nearest return code) or, during
	// re-authentication, in a DISCONNECT.
	Code mqttcodec.ReasonCode
	// Data is the Authentication Data to send with an AUTH continue step
	// or with the final CONNACK or AUTH success.
	Data []byte
	// State is handed back in the next step's AuthRequest.
	State any
	// ReasonString, when not empty, goes with a refusal of a CONNECT, as
	// the CONNACK's Reason String (MQTT 5).
	ReasonString string
}

// AllowAll is the default Authenticator: it accepts every plain CONNECT,
// user name or not, and refuses enhanced authentication with
// BadAuthenticationMethod, since it knows no method [MQTT-4.12.0-1].
type AllowAll struct{}

// Authenticate accepts a request without a Method.
func (AllowAll) Authenticate(_ context.Context, req AuthRequest) (AuthResult, error) {
	if req.Method != "" {
		return AuthResult{Code: mqttcodec.BadAuthenticationMethod}, nil
	}
	return AuthResult{Code: mqttcodec.Success}, nil
}
