package mqttcodec

import "strconv"

// ReasonCode is an MQTT 5.0 reason code [MQTT-2.4]. Several codes share a value
// (0x00 is Success, Normal disconnection and Granted QoS 0); String names the
// value's most general meaning.
type ReasonCode uint8

// MQTT 5.0 reason codes (table 2-6).
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWillMessage           ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = map[ReasonCode]string{
	Success:                             "success",
	GrantedQoS1:                         "granted QoS 1",
	GrantedQoS2:                         "granted QoS 2",
	DisconnectWithWillMessage:           "disconnect with will message",
	NoMatchingSubscribers:               "no matching subscribers",
	NoSubscriptionExisted:               "no subscription existed",
	ContinueAuthentication:              "continue authentication",
	ReAuthenticate:                      "re-authenticate",
	UnspecifiedError:                    "unspecified error",
	MalformedPacket:                     "malformed packet",
	ProtocolError:                       "protocol error",
	ImplementationSpecificError:         "implementation specific error",
	UnsupportedProtocolVersion:          "unsupported protocol version",
	ClientIdentifierNotValid:            "client identifier not valid",
	BadUserNameOrPassword:               "bad user name or password",
	NotAuthorized:                       "not authorized",
	ServerUnavailable:                   "server unavailable",
	ServerBusy:                          "server busy",
	Banned:                              "banned",
	ServerShuttingDown:                  "server shutting down",
	BadAuthenticationMethod:             "bad authentication method",
	KeepAliveTimeout:                    "keep alive timeout",
	SessionTakenOver:                    "session taken over",
	TopicFilterInvalid:                  "topic filter invalid",
	TopicNameInvalid:                    "topic name invalid",
	PacketIdentifierInUse:               "packet identifier in use",
	PacketIdentifierNotFound:            "packet identifier not found",
	ReceiveMaximumExceeded:              "receive maximum exceeded",
	TopicAliasInvalid:                   "topic alias invalid",
	PacketTooLarge:                      "packet too large",
	MessageRateTooHigh:                  "message rate too high",
	QuotaExceeded:                       "quota exceeded",
	AdministrativeAction:                "administrative action",
	PayloadFormatInvalid:                "payload format invalid",
	RetainNotSupported:                  "retain not supported",
	QoSNotSupported:                     "QoS not supported",
	UseAnotherServer:                    "use another server",
	ServerMoved:                         "server moved",
	SharedSubscriptionsNotSupported:     "shared subscriptions not supported",
	ConnectionRateExceeded:              "connection rate exceeded",
	MaximumConnectTime:                  "maximum connect time",
	SubscriptionIdentifiersNotSupported: "subscription identifiers not supported",
	WildcardSubscriptionsNotSupported:   "wildcard subscriptions not supported",
}

// String returns the code's name in the specification, in lower case.
func (c ReasonCode) String() string {
	if s, ok := reasonNames[c]; ok {
		return s
	}
	return "reason-0x" + strconv.FormatUint(uint64(c), 16)
}

// IsError reports whether c signals failure (0x80 or greater) [MQTT-2.4].
func (c ReasonCode) IsError() bool { return c >= 0x80 }

func codes(cs ...ReasonCode) (set [4]uint64) {
	for _, c := range cs {
		set[c/64] |= 1 << (c % 64)
	}
	return set
}

// reasonsFor lists the codes each packet type may carry (tables 3-1 and the
// reason-code tables of 3.4 to 3.15).
var reasonsFor = [16][4]uint64{
	TypeConnack: codes(Success, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, UnsupportedProtocolVersion, ClientIdentifierNotValid,
		BadUserNameOrPassword, NotAuthorized, ServerUnavailable, ServerBusy, Banned,
		BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, QuotaExceeded,
		PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
		ConnectionRateExceeded),
	TypePuback:  pubResponseCodes,
	TypePubrec:  pubResponseCodes,
	TypePubrel:  codes(Success, PacketIdentifierNotFound),
	TypePubcomp: codes(Success, PacketIdentifierNotFound),
	TypeSuback: codes(GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported),
	TypeUnsuback: codes(Success, NoSubscriptionExisted, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse),
	TypeDisconnect: codes(NormalDisconnection, DisconnectWithWillMessage, UnspecifiedError,
		MalformedPacket, ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
		ServerShuttingDown, KeepAliveTimeout, SessionTakenOver, TopicFilterInvalid,
		TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid, PacketTooLarge,
		MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
		RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
		SharedSubscriptionsNotSupported, ConnectionRateExceeded, MaximumConnectTime,
		SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported),
	TypeAuth: codes(Success, ContinueAuthentication, ReAuthenticate),
}

var pubResponseCodes = codes(Success, NoMatchingSubscribers, UnspecifiedError,
	ImplementationSpecificError, NotAuthorized, TopicNameInvalid, PacketIdentifierInUse,
	QuotaExceeded, PayloadFormatInvalid)

// ValidFor reports whether an MQTT 5 packet of type t may carry c.
func (c ReasonCode) ValidFor(t PacketType) bool {
	return int(t) < len(reasonsFor) && reasonsFor[t][c/64]&(1<<(c%64)) != 0
}

// ConnackReturnCode is an MQTT 3.1 / 3.1.1 CONNACK return code [MQTT-3.2.2.3].
type ConnackReturnCode uint8

// MQTT 3.1.1 CONNACK return codes.
const (
	ConnectionAccepted           ConnackReturnCode = 0x00
	RefusedProtocolVersion       ConnackReturnCode = 0x01
	RefusedIdentifierRejected    ConnackReturnCode = 0x02
	RefusedServerUnavailable     ConnackReturnCode = 0x03
	RefusedBadUserNameOrPassword ConnackReturnCode = 0x04
	RefusedNotAuthorized         ConnackReturnCode = 0x05
)

var returnCodeNames = [...]string{
	"connection accepted", "refused: unacceptable protocol version",
	"refused: identifier rejected", "refused: server unavailable",
	"refused: bad user name or password", "refused: not authorized",
}

// String returns the return code's meaning.
func (c ConnackReturnCode) String() string {
	if int(c) < len(returnCodeNames) {
		return returnCodeNames[c]
	}
	return "return-code-0x" + strconv.FormatUint(uint64(c), 16)
}

// ConnackReturnCodeFor maps a 5.0 CONNACK reason code to the 3.1.1 return code
// with the same meaning. It reports false when 3.1.1 has none: malformed
// packets, protocol errors and refusals 3.1.1 cannot express end with the
// connection closed and no CONNACK [MQTT-4.8.0-1 of 3.1.1].
func ConnackReturnCodeFor(c ReasonCode) (ConnackReturnCode, bool) {
	switch c {
	case Success:
		return ConnectionAccepted, true
	case UnsupportedProtocolVersion:
		return RefusedProtocolVersion, true
	case ClientIdentifierNotValid:
		return RefusedIdentifierRejected, true
	case ServerUnavailable, ServerBusy, UseAnotherServer, ServerMoved, ConnectionRateExceeded,
		QuotaExceeded:
		return RefusedServerUnavailable, true
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return RefusedBadUserNameOrPassword, true
	case NotAuthorized, Banned:
		return RefusedNotAuthorized, true
	}
	return 0, false
}

// ReasonCode returns the 5.0 reason code closest to a 3.1.1 return code; the
// mapping inverts ConnackReturnCodeFor on the codes 3.1.1 defines.
func (c ConnackReturnCode) ReasonCode() (ReasonCode, bool) {
	switch c {
	case ConnectionAccepted:
		return Success, true
	case RefusedProtocolVersion:
		return UnsupportedProtocolVersion, true
	case RefusedIdentifierRejected:
		return ClientIdentifierNotValid, true
	case RefusedServerUnavailable:
		return ServerUnavailable, true
	case RefusedBadUserNameOrPassword:
		return BadUserNameOrPassword, true
	case RefusedNotAuthorized:
		return NotAuthorized, true
	}
	return 0, false
}

// subackCodeV3 maps a 5.0 SUBACK reason code to 3.1.1, which knows only the
// granted QoS and 0x80 Failure [MQTT-3.9.3-2 of 3.1.1].
func subackCodeV3(c ReasonCode) byte {
	if c.IsError() {
		return byte(UnspecifiedError)
	}
	return byte(c)
}
