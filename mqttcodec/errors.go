package mqttcodec

import "errors"

// ErrMalformed matches, through errors.Is, every *ReasonError of code
// MalformedPacket.
var ErrMalformed = errors.New("mqttcodec: malformed packet")

// ErrProtocol matches, through errors.Is, every *ReasonError of code
// ProtocolError.
var ErrProtocol = errors.New("mqttcodec: protocol error")

// ReasonError is the error every decoder and encoder of this package returns.
// Code is the reason code an MQTT 5 peer should be told (in a CONNACK or a
// DISCONNECT) before the connection closes; for 3.1.1 it picks the CONNACK
// return code through ConnackReturnCodeFor, or none. Clause names the violated
// conformance statement, "MQTT-x.y.z-n" — of the 5.0 specification when the
// connection speaks 5.0, of 3.1.1 when it speaks 3.1 or 3.1.1 — or, for a rule
// without a numbered statement, the section "MQTT-x.y.z" that states it.
//
// The values are shared and must not be modified; they cost no allocation.
type ReasonError struct {
	Code   ReasonCode
	Clause string
	msg    string
}

// Error returns a package-prefixed description with the clause.
func (e *ReasonError) Error() string {
	return "mqttcodec: " + e.Code.String() + ": " + e.msg + " [" + e.Clause + "]"
}

// Is makes errors.Is(err, ErrMalformed) and errors.Is(err, ErrProtocol) work.
func (e *ReasonError) Is(target error) bool {
	return (target == ErrMalformed && e.Code == MalformedPacket) ||
		(target == ErrProtocol && e.Code == ProtocolError)
}

// rule is one requirement with its statement in each specification, because
// 3.1.1 and 5.0 number many of the same requirements differently.
type rule struct{ v5, v3 *ReasonError }

func (r rule) of(v Version) *ReasonError {
	if v == V5 {
		return r.v5
	}
	return r.v3
}

func newRule(code ReasonCode, msg, clause5, clause3 string) rule {
	r := rule{v5: &ReasonError{Code: code, Clause: clause5, msg: msg}}
	r.v3 = r.v5
	if clause3 != clause5 {
		r.v3 = &ReasonError{Code: code, Clause: clause3, msg: msg}
	}
	return r
}

func newErr(code ReasonCode, msg, clause string) *ReasonError {
	return &ReasonError{Code: code, Clause: clause, msg: msg}
}

// Framing and data representation.
var (
	errTruncated        = newRule(MalformedPacket, "packet ends inside a field", "MQTT-2.1.4", "MQTT-2.2.3")
	errFrameLength      = newRule(MalformedPacket, "remaining length does not match the frame", "MQTT-2.1.4", "MQTT-2.2.3")
	errTrailing         = newRule(MalformedPacket, "bytes left after the last field", "MQTT-2.1.4", "MQTT-2.2.3")
	errPacketType       = newRule(MalformedPacket, "reserved or unexpected packet type", "MQTT-2.1.2", "MQTT-2.2.1")
	errVarIntTooLong    = newRule(MalformedPacket, "variable byte integer longer than four bytes", "MQTT-1.5.5-1", "MQTT-2.2.3")
	errVarIntNonMinimal = newRule(MalformedPacket, "variable byte integer not minimally encoded", "MQTT-1.5.5-1", "MQTT-2.2.3")
	errUTF8             = newRule(MalformedPacket, "ill-formed UTF-8 string", "MQTT-1.5.4-1", "MQTT-1.5.3-1")
	errUTF8Null         = newRule(MalformedPacket, "UTF-8 string contains U+0000", "MQTT-1.5.4-2", "MQTT-1.5.3-2")
	errUTF8Discouraged  = newErr(MalformedPacket, "UTF-8 string contains a control character or non-character", "MQTT-1.5.4")
	errTooLarge         = newErr(PacketTooLarge, "frame exceeds the maximum packet size", "MQTT-3.2.2.3.6")
	errTooLargeToSend   = newErr(PacketTooLarge, "packet exceeds the receiver's maximum packet size", "MQTT-3.1.2-24")
	errVarIntRange      = newErr(MalformedPacket, "value exceeds a variable byte integer", "MQTT-1.5.5")
	errStringTooLong    = newErr(MalformedPacket, "string or binary field longer than 65535 bytes", "MQTT-1.5.4")
	errVersion          = newErr(UnsupportedProtocolVersion, "unknown protocol version", "MQTT-3.1.2-2")
	errPacketIDZero     = newRule(ProtocolError, "packet identifier is zero", "MQTT-2.2.1-3", "MQTT-2.3.1-1")
)

// errReservedFlags holds, per packet type, the rule on the fixed-header flags.
var errReservedFlags = func() (r [16]rule) {
	for t := range r {
		r[t] = newRule(MalformedPacket, "reserved fixed-header flags", "MQTT-2.1.3-1", "MQTT-2.2.2-1")
	}
	r[TypePubrel] = newRule(MalformedPacket, "PUBREL flags are not 0010", "MQTT-3.6.1-1", "MQTT-3.6.1-1")
	r[TypeSubscribe] = newRule(MalformedPacket, "SUBSCRIBE flags are not 0010", "MQTT-3.8.1-1", "MQTT-3.8.1-1")
	r[TypeUnsubscribe] = newRule(MalformedPacket, "UNSUBSCRIBE flags are not 0010", "MQTT-3.10.1-1", "MQTT-3.10.1-1")
	r[TypeDisconnect] = newRule(MalformedPacket, "DISCONNECT flags are not 0", "MQTT-3.14.1-1", "MQTT-3.14.1-1")
	r[TypeAuth] = newRule(MalformedPacket, "AUTH flags are not 0", "MQTT-3.15.1-1", "MQTT-3.15.1-1")
	return r
}()

// errReasonCode holds, per packet type, the rule that the reason code is one
// the packet may carry.
var errReasonCode = func() (r [16]*ReasonError) {
	for t, c := range map[PacketType]string{
		TypeConnack: "MQTT-3.2.2-8", TypePuback: "MQTT-3.4.2-1", TypePubrec: "MQTT-3.5.2-1",
		TypePubrel: "MQTT-3.6.2-1", TypePubcomp: "MQTT-3.7.2.1-1", TypeSuback: "MQTT-3.9.3-2",
		TypeUnsuback: "MQTT-3.11.3-2", TypeDisconnect: "MQTT-3.14.2-1", TypeAuth: "MQTT-3.15.2-1",
	} {
		r[t] = newErr(ProtocolError, "reason code not allowed in "+t.String(), c)
	}
	return r
}()

// Properties (MQTT 5 only).
var (
	errPropLength     = newErr(MalformedPacket, "property length exceeds the packet", "MQTT-2.2.2.1")
	errPropTruncated  = newErr(MalformedPacket, "property value exceeds the property length", "MQTT-2.2.2.1")
	errPropUnknown    = newErr(MalformedPacket, "unknown property identifier", "MQTT-2.2.2.2")
	errPropNotAllowed = newErr(ProtocolError, "property not allowed in this packet", "MQTT-2.2.2.2")
	errPropDuplicate  = newErr(ProtocolError, "property included more than once", "MQTT-2.2.2.2")
	errPropValue      = newErr(ProtocolError, "property value out of range", "MQTT-2.2.2.2")
	errTopicAliasZero = newErr(ProtocolError, "topic alias is zero", "MQTT-3.3.2-8")
	errSubIDValue     = newErr(ProtocolError, "subscription identifier is zero or too large", "MQTT-3.8.2.1.2")
	errResponseTopic  = newErr(MalformedPacket, "response topic is not a topic name", "MQTT-3.3.2-14")
	errAuthDataAlone  = newErr(ProtocolError, "authentication data without authentication method", "MQTT-3.1.2.11.10")
)

// Topic names and filters.
var (
	errTopicEmpty        = newRule(MalformedPacket, "empty topic name or filter", "MQTT-4.7.3-1", "MQTT-4.7.3-1")
	errFilterEmpty       = errTopicEmpty
	errTopicTooLong      = newRule(MalformedPacket, "topic longer than 65535 bytes", "MQTT-4.7.3-3", "MQTT-4.7.3-3")
	errTopicWildcard     = newRule(MalformedPacket, "wildcard in a topic name", "MQTT-4.7.0-1", "MQTT-4.7.1-1")
	errFilterMultiLevel  = newRule(MalformedPacket, "'#' not alone in the last level", "MQTT-4.7.1-1", "MQTT-4.7.1-2")
	errFilterSingleLevel = newRule(MalformedPacket, "'+' not alone in its level", "MQTT-4.7.1-2", "MQTT-4.7.1-3")
	errShareNameEmpty    = newErr(MalformedPacket, "empty share name", "MQTT-4.8.2-1")
	errShareNameChars    = newErr(MalformedPacket, "share name contains '+' or '#'", "MQTT-4.8.2-2")
	errShareNoFilter     = newErr(MalformedPacket, "share name not followed by '/' and a topic filter", "MQTT-4.8.2-2")
)

// CONNECT and CONNACK.
var (
	errProtocolName      = newRule(ProtocolError, "unknown protocol name", "MQTT-3.1.2-1", "MQTT-3.1.2-1")
	errProtocolVersion   = newRule(UnsupportedProtocolVersion, "unsupported protocol level", "MQTT-3.1.2-2", "MQTT-3.1.2-2")
	errConnectReserved   = newRule(MalformedPacket, "CONNECT reserved flag is set", "MQTT-3.1.2-3", "MQTT-3.1.2-3")
	errWillQoSNoWill     = newRule(MalformedPacket, "will QoS set without a will", "MQTT-3.1.2-11", "MQTT-3.1.2-13")
	errWillQoS3          = newRule(MalformedPacket, "will QoS is 3", "MQTT-3.1.2-12", "MQTT-3.1.2-14")
	errWillRetainNoWill  = newRule(MalformedPacket, "will retain set without a will", "MQTT-3.1.2-13", "MQTT-3.1.2-15")
	errPasswordNoUser    = newErr(MalformedPacket, "password without user name", "MQTT-3.1.2-22")                                // 3.1.1 only
	errClientIDEmpty     = newErr(ClientIdentifierNotValid, "empty client identifier with a persistent session", "MQTT-3.1.3-8") // 3.1.1
	errConnackFlags      = newRule(MalformedPacket, "CONNACK reserved flags are set", "MQTT-3.2.2-1", "MQTT-3.2.2.1")
	errConnackReturnCode = newErr(ProtocolError, "reserved CONNACK return code", "MQTT-3.2.2.3")
	errClientIDMissing   = newRule(MalformedPacket, "client identifier missing", "MQTT-3.1.3-3", "MQTT-3.1.3-3")
	errWillMissing       = newRule(MalformedPacket, "will topic or payload missing", "MQTT-3.1.2-9", "MQTT-3.1.2-9")
	errUsernameMissing   = newRule(MalformedPacket, "user name missing", "MQTT-3.1.2-17", "MQTT-3.1.2-19")
	errPasswordMissing   = newRule(MalformedPacket, "password missing", "MQTT-3.1.2-19", "MQTT-3.1.2-21")
	errSessionPresent    = newRule(ProtocolError, "session present with a refusal", "MQTT-3.2.2-6", "MQTT-3.2.2-4")
)

// PUBLISH.
var (
	errQoS3              = newRule(MalformedPacket, "QoS 3", "MQTT-3.3.1-4", "MQTT-3.3.1-4")
	errDupQoS0           = newRule(MalformedPacket, "DUP set on a QoS 0 PUBLISH", "MQTT-3.3.1-2", "MQTT-3.3.1-2")
	errPublishWildcard   = newRule(MalformedPacket, "wildcard in a PUBLISH topic name", "MQTT-3.3.2-2", "MQTT-3.3.2-2")
	errTopicEmptyNoAlias = newErr(ProtocolError, "empty topic name without a topic alias", "MQTT-3.3.2.3.4")
	errPayloadFormat     = newErr(PayloadFormatInvalid, "payload is not the UTF-8 its format indicator says", "MQTT-3.3.2.3.2")
)

// SUBSCRIBE, UNSUBSCRIBE and their acknowledgements.
var (
	errSubscribeEmpty   = newRule(ProtocolError, "SUBSCRIBE without a topic filter", "MQTT-3.8.3-2", "MQTT-3.8.3-3")
	errSubOptsReserved  = newRule(MalformedPacket, "reserved subscription option bits are set", "MQTT-3.8.3-5", "MQTT-3.8.3-4")
	errSubQoS3          = newRule(MalformedPacket, "requested QoS is 3", "MQTT-3.8.3.1", "MQTT-3.8.3-4")
	errRetainHandling3  = newErr(ProtocolError, "retain handling is 3", "MQTT-3.8.3.1")
	errNoLocalShared    = newErr(ProtocolError, "no local on a shared subscription", "MQTT-3.8.3-4")
	errUnsubscribeEmpty = newRule(ProtocolError, "UNSUBSCRIBE without a topic filter", "MQTT-3.10.3-2", "MQTT-3.10.3-2")
	errAckEmpty         = newRule(ProtocolError, "acknowledgement without a reason code", "MQTT-3.9.3", "MQTT-3.9.3")
)

// AUTH.
var errAuthNoMethod = newErr(ProtocolError, "AUTH without authentication method", "MQTT-3.15.2.2.2")
