package mqttcodec

import (
	"iter"
	"strconv"
)

// PropertyID identifies an MQTT 5 property [MQTT-2.2.2.2]. The identifier is a
// Variable Byte Integer on the wire, but every identifier defined by 5.0 fits
// in one byte.
type PropertyID uint8

// MQTT 5.0 properties, named as in the specification's table 2-4. Time
// intervals are kept as the wire's seconds, and the field names say so.
const (
	PropPayloadFormat        PropertyID = 0x01 // Payload Format Indicator
	PropMessageExpiry        PropertyID = 0x02 // Message Expiry Interval
	PropContentType          PropertyID = 0x03
	PropResponseTopic        PropertyID = 0x08
	PropCorrelationData      PropertyID = 0x09
	PropSubscriptionID       PropertyID = 0x0B // Subscription Identifier
	PropSessionExpiry        PropertyID = 0x11 // Session Expiry Interval
	PropAssignedClientID     PropertyID = 0x12 // Assigned Client Identifier
	PropServerKeepAlive      PropertyID = 0x13
	PropAuthMethod           PropertyID = 0x15 // Authentication Method
	PropAuthData             PropertyID = 0x16 // Authentication Data
	PropRequestProblemInfo   PropertyID = 0x17 // Request Problem Information
	PropWillDelay            PropertyID = 0x18 // Will Delay Interval
	PropRequestResponseInfo  PropertyID = 0x19 // Request Response Information
	PropResponseInfo         PropertyID = 0x1A // Response Information
	PropServerReference      PropertyID = 0x1C
	PropReasonString         PropertyID = 0x1F
	PropReceiveMaximum       PropertyID = 0x21
	PropTopicAliasMaximum    PropertyID = 0x22
	PropTopicAlias           PropertyID = 0x23
	PropMaximumQoS           PropertyID = 0x24
	PropRetainAvailable      PropertyID = 0x25
	PropUserProperty         PropertyID = 0x26
	PropMaximumPacketSize    PropertyID = 0x27
	PropWildcardSubAvailable PropertyID = 0x28 // Wildcard Subscription Available
	PropSubIDAvailable       PropertyID = 0x29 // Subscription Identifier Available
	PropSharedSubAvailable   PropertyID = 0x2A // Shared Subscription Available
)

// String returns the property's name in the specification.
func (id PropertyID) String() string {
	if int(id) < len(propTable) && propTable[id].name != "" {
		return propTable[id].name
	}
	return "property-0x" + strconv.FormatUint(uint64(id), 16)
}

// propKind is the wire type of a property's value [MQTT-1.5].
type propKind uint8

const (
	kindNone   propKind = iota // not a property
	kindByte                   // one byte; every such property is 0 or 1
	kindUint16                 // Two Byte Integer
	kindUint32                 // Four Byte Integer
	kindVarInt                 // Variable Byte Integer
	kindString                 // UTF-8 Encoded String
	kindBinary                 // Binary Data
	kindPair                   // UTF-8 String Pair
)

// willContext stands for the Will Properties of CONNECT in the masks below;
// 0 is a reserved packet type, so it cannot clash with a real one.
const willContext PacketType = 0

func in(types ...PacketType) uint16 {
	var m uint16
	for _, t := range types {
		m |= 1 << t
	}
	return m
}

var (
	everyPacket = in(TypeConnect, TypeConnack, TypePublish, willContext, TypePuback, TypePubrec,
		TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback,
		TypeDisconnect, TypeAuth)
	acks = in(TypeConnack, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback,
		TypeUnsuback, TypeDisconnect, TypeAuth)
	message = in(TypePublish, willContext)
)

// propTable says, per identifier, the value's wire type and the packets that
// may carry it [MQTT-2.2.2.2, table 2-4].
var propTable = [PropSharedSubAvailable + 1]struct {
	name    string
	kind    propKind
	allowed uint16
}{
	PropPayloadFormat:        {"Payload Format Indicator", kindByte, message},
	PropMessageExpiry:        {"Message Expiry Interval", kindUint32, message},
	PropContentType:          {"Content Type", kindString, message},
	PropResponseTopic:        {"Response Topic", kindString, message},
	PropCorrelationData:      {"Correlation Data", kindBinary, message},
	PropSubscriptionID:       {"Subscription Identifier", kindVarInt, in(TypePublish, TypeSubscribe)},
	PropSessionExpiry:        {"Session Expiry Interval", kindUint32, in(TypeConnect, TypeConnack, TypeDisconnect)},
	PropAssignedClientID:     {"Assigned Client Identifier", kindString, in(TypeConnack)},
	PropServerKeepAlive:      {"Server Keep Alive", kindUint16, in(TypeConnack)},
	PropAuthMethod:           {"Authentication Method", kindString, in(TypeConnect, TypeConnack, TypeAuth)},
	PropAuthData:             {"Authentication Data", kindBinary, in(TypeConnect, TypeConnack, TypeAuth)},
	PropRequestProblemInfo:   {"Request Problem Information", kindByte, in(TypeConnect)},
	PropWillDelay:            {"Will Delay Interval", kindUint32, in(willContext)},
	PropRequestResponseInfo:  {"Request Response Information", kindByte, in(TypeConnect)},
	PropResponseInfo:         {"Response Information", kindString, in(TypeConnack)},
	PropServerReference:      {"Server Reference", kindString, in(TypeConnack, TypeDisconnect)},
	PropReasonString:         {"Reason String", kindString, acks},
	PropReceiveMaximum:       {"Receive Maximum", kindUint16, in(TypeConnect, TypeConnack)},
	PropTopicAliasMaximum:    {"Topic Alias Maximum", kindUint16, in(TypeConnect, TypeConnack)},
	PropTopicAlias:           {"Topic Alias", kindUint16, in(TypePublish)},
	PropMaximumQoS:           {"Maximum QoS", kindByte, in(TypeConnack)},
	PropRetainAvailable:      {"Retain Available", kindByte, in(TypeConnack)},
	PropUserProperty:         {"User Property", kindPair, everyPacket},
	PropMaximumPacketSize:    {"Maximum Packet Size", kindUint32, in(TypeConnect, TypeConnack)},
	PropWildcardSubAvailable: {"Wildcard Subscription Available", kindByte, in(TypeConnack)},
	PropSubIDAvailable:       {"Subscription Identifier Available", kindByte, in(TypeConnack)},
	PropSharedSubAvailable:   {"Shared Subscription Available", kindByte, in(TypeConnack)},
}

func kindOf(id PropertyID) propKind {
	if int(id) < len(propTable) {
		return propTable[id].kind
	}
	return kindNone
}

// AllowedIn reports whether property id may appear in a packet of type t. Will
// Properties are checked separately by the CONNECT decoder.
func (id PropertyID) AllowedIn(t PacketType) bool {
	return int(id) < len(propTable) && propTable[id].allowed&(1<<t) != 0
}

// Properties holds the MQTT 5 properties of one packet (or of a CONNECT's
// will). Decoders fill it with views into the frame; see the package
// documentation for how long they stay valid.
//
// A property is present when Has reports it: decoders mark what they read, and
// the SetX methods set a value and mark it. Encoders write only present
// properties, in identifier order, so assigning a field without its setter
// writes nothing. User Properties and Subscription Identifiers, which may
// repeat, are kept in wire form and read through UserProperties and
// SubscriptionIDs; decoding them allocates nothing.
type Properties struct {
	present uint64 // bit i set when property i is present

	PayloadFormat          byte   // 0 unspecified bytes, 1 UTF-8 [MQTT-3.3.2.3.2]
	MessageExpirySeconds   uint32 // Message Expiry Interval
	ContentType            []byte
	ResponseTopic          []byte
	CorrelationData        []byte
	SessionExpirySeconds   uint32 // Session Expiry Interval; 0xFFFFFFFF never expires
	AssignedClientID       []byte
	ServerKeepAliveSeconds uint16
	AuthMethod             []byte
	AuthData               []byte
	RequestProblemInfo     bool
	WillDelaySeconds       uint32 // Will Delay Interval
	RequestResponseInfo    bool
	ResponseInfo           []byte
	ServerReference        []byte
	ReasonString           []byte
	ReceiveMaximum         uint16 // never 0 on the wire
	TopicAliasMaximum      uint16
	TopicAlias             uint16 // never 0 on the wire [MQTT-3.3.2-8]
	MaximumQoS             QoS    // 0 or 1 on the wire; absent means 2
	RetainAvailable        bool
	MaximumPacketBytes     uint32 // Maximum Packet Size; never 0 on the wire
	WildcardSubAvailable   bool
	SubIDAvailable         bool
	SharedSubAvailable     bool

	// user is a wire-form span holding every User Property in order. After a
	// decode it may also hold other properties that sat between them; the
	// readers skip those. userBytes counts only the User Property entries.
	user      []byte
	userBytes int
	// subIDs is the same for Subscription Identifiers.
	subIDs      []byte
	subIDBytes  int
	subIDsCount int
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropertyID) bool {
	switch id {
	case PropUserProperty:
		return p.userBytes > 0
	case PropSubscriptionID:
		return p.subIDsCount > 0
	}
	return int(id) < 64 && p.present&(1<<id) != 0
}

// Clear removes property id. Clearing PropUserProperty or PropSubscriptionID
// removes every instance.
func (p *Properties) Clear(id PropertyID) {
	switch id {
	case PropUserProperty:
		p.ClearUserProperties()
	case PropSubscriptionID:
		p.ClearSubscriptionIDs()
	default:
		if int(id) < 64 {
			p.present &^= 1 << id
		}
	}
}

// Reset removes every property.
func (p *Properties) Reset() { *p = Properties{} }

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.present == 0 && p.userBytes == 0 && p.subIDsCount == 0
}

func (p *Properties) mark(id PropertyID) { p.present |= 1 << id }

// SetPayloadFormat sets the Payload Format Indicator (0 bytes, 1 UTF-8).
func (p *Properties) SetPayloadFormat(v byte) { p.PayloadFormat = v; p.mark(PropPayloadFormat) }

// SetMessageExpirySeconds sets the Message Expiry Interval.
func (p *Properties) SetMessageExpirySeconds(v uint32) {
	p.MessageExpirySeconds = v
	p.mark(PropMessageExpiry)
}

// SetContentType sets the Content Type.
func (p *Properties) SetContentType(v []byte) { p.ContentType = v; p.mark(PropContentType) }

// SetResponseTopic sets the Response Topic.
func (p *Properties) SetResponseTopic(v []byte) { p.ResponseTopic = v; p.mark(PropResponseTopic) }

// SetCorrelationData sets the Correlation Data.
func (p *Properties) SetCorrelationData(v []byte) { p.CorrelationData = v; p.mark(PropCorrelationData) }

// SetSessionExpirySeconds sets the Session Expiry Interval.
func (p *Properties) SetSessionExpirySeconds(v uint32) {
	p.SessionExpirySeconds = v
	p.mark(PropSessionExpiry)
}

// SetAssignedClientID sets the Assigned Client Identifier.
func (p *Properties) SetAssignedClientID(v []byte) {
	p.AssignedClientID = v
	p.mark(PropAssignedClientID)
}

// SetServerKeepAliveSeconds sets the Server Keep Alive.
func (p *Properties) SetServerKeepAliveSeconds(v uint16) {
	p.ServerKeepAliveSeconds = v
	p.mark(PropServerKeepAlive)
}

// SetAuthMethod sets the Authentication Method.
func (p *Properties) SetAuthMethod(v []byte) { p.AuthMethod = v; p.mark(PropAuthMethod) }

// SetAuthData sets the Authentication Data.
func (p *Properties) SetAuthData(v []byte) { p.AuthData = v; p.mark(PropAuthData) }

// SetRequestProblemInfo sets Request Problem Information.
func (p *Properties) SetRequestProblemInfo(v bool) {
	p.RequestProblemInfo = v
	p.mark(PropRequestProblemInfo)
}

// SetWillDelaySeconds sets the Will Delay Interval.
func (p *Properties) SetWillDelaySeconds(v uint32) { p.WillDelaySeconds = v; p.mark(PropWillDelay) }

// SetRequestResponseInfo sets Request Response Information.
func (p *Properties) SetRequestResponseInfo(v bool) {
	p.RequestResponseInfo = v
	p.mark(PropRequestResponseInfo)
}

// SetResponseInfo sets Response Information.
func (p *Properties) SetResponseInfo(v []byte) { p.ResponseInfo = v; p.mark(PropResponseInfo) }

// SetServerReference sets the Server Reference.
func (p *Properties) SetServerReference(v []byte) { p.ServerReference = v; p.mark(PropServerReference) }

// SetReasonString sets the Reason String.
func (p *Properties) SetReasonString(v []byte) { p.ReasonString = v; p.mark(PropReasonString) }

// SetReceiveMaximum sets Receive Maximum, which must not be 0.
func (p *Properties) SetReceiveMaximum(v uint16) { p.ReceiveMaximum = v; p.mark(PropReceiveMaximum) }

// SetTopicAliasMaximum sets Topic Alias Maximum.
func (p *Properties) SetTopicAliasMaximum(v uint16) {
	p.TopicAliasMaximum = v
	p.mark(PropTopicAliasMaximum)
}

// SetTopicAlias sets the Topic Alias, which must not be 0 [MQTT-3.3.2-8].
func (p *Properties) SetTopicAlias(v uint16) { p.TopicAlias = v; p.mark(PropTopicAlias) }

// SetMaximumQoS sets Maximum QoS, which must be 0 or 1.
func (p *Properties) SetMaximumQoS(v QoS) { p.MaximumQoS = v; p.mark(PropMaximumQoS) }

// SetRetainAvailable sets Retain Available.
func (p *Properties) SetRetainAvailable(v bool) { p.RetainAvailable = v; p.mark(PropRetainAvailable) }

// SetMaximumPacketBytes sets Maximum Packet Size, which must not be 0.
func (p *Properties) SetMaximumPacketBytes(v uint32) {
	p.MaximumPacketBytes = v
	p.mark(PropMaximumPacketSize)
}

// SetWildcardSubAvailable sets Wildcard Subscription Available.
func (p *Properties) SetWildcardSubAvailable(v bool) {
	p.WildcardSubAvailable = v
	p.mark(PropWildcardSubAvailable)
}

// SetSubIDAvailable sets Subscription Identifier Available.
func (p *Properties) SetSubIDAvailable(v bool) { p.SubIDAvailable = v; p.mark(PropSubIDAvailable) }

// SetSharedSubAvailable sets Shared Subscription Available.
func (p *Properties) SetSharedSubAvailable(v bool) {
	p.SharedSubAvailable = v
	p.mark(PropSharedSubAvailable)
}

// UserProperties yields every User Property as (key, value), in wire order
// [MQTT-3.3.2-18]. The slices alias the frame (or the buffer AddUserProperty
// grew); iterating allocates nothing.
func (p *Properties) UserProperties() iter.Seq2[[]byte, []byte] {
	return func(yield func(key, value []byte) bool) {
		for b := p.user; len(b) > 0; {
			n := entryLen(b)
			if n == 0 {
				return
			}
			if PropertyID(b[0]) == PropUserProperty {
				kl := int(b[1])<<8 | int(b[2])
				key := b[3 : 3+kl : 3+kl]
				value := b[5+kl : n : n]
				if !yield(key, value) {
					return
				}
			}
			b = b[n:]
		}
	}
}

// UserPropertyCount returns the number of User Properties.
func (p *Properties) UserPropertyCount() int {
	n := 0
	for range p.UserProperties() {
		n++
	}
	return n
}

// AddUserProperty appends a User Property after the present ones. Key and value
// must be valid UTF-8 Encoded Strings [MQTT-1.5.7-1]; they are copied, so the
// caller may reuse them.
func (p *Properties) AddUserProperty(key, value []byte) error {
	if len(key) > MaxStringBytes || len(value) > MaxStringBytes {
		return errStringTooLong
	}
	if err := ValidateUTF8(key); err != nil {
		return err
	}
	if err := ValidateUTF8(value); err != nil {
		return err
	}
	n := len(p.user)
	p.user = append(p.user, byte(PropUserProperty))
	p.user = appendString(appendString(p.user, key), value)
	p.userBytes += len(p.user) - n
	return nil
}

// ClearUserProperties removes every User Property.
func (p *Properties) ClearUserProperties() { p.user, p.userBytes = nil, 0 }

// SubscriptionIDs yields every Subscription Identifier in wire order.
func (p *Properties) SubscriptionIDs() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for b := p.subIDs; len(b) > 0; {
			n := entryLen(b)
			if n == 0 {
				return
			}
			if PropertyID(b[0]) == PropSubscriptionID {
				v, _, _ := parseVarInt(b[1:n])
				if !yield(v) {
					return
				}
			}
			b = b[n:]
		}
	}
}

// SubscriptionID returns the first Subscription Identifier, the only one a
// SUBSCRIBE may carry.
func (p *Properties) SubscriptionID() (uint32, bool) {
	for id := range p.SubscriptionIDs() {
		return id, true
	}
	return 0, false
}

// SubscriptionIDCount returns the number of Subscription Identifiers.
func (p *Properties) SubscriptionIDCount() int { return p.subIDsCount }

// AddSubscriptionID appends a Subscription Identifier, which must be in
// 1..MaxVarInt. A PUBLISH to a client carries one per matching subscription
// [MQTT-3.3.4-4].
func (p *Properties) AddSubscriptionID(id uint32) error {
	if id == 0 || id > MaxVarInt {
		return errSubIDValue
	}
	n := len(p.subIDs)
	p.subIDs = appendVarInt(append(p.subIDs, byte(PropSubscriptionID)), id)
	p.subIDBytes += len(p.subIDs) - n
	p.subIDsCount++
	return nil
}

// ClearSubscriptionIDs removes every Subscription Identifier.
func (p *Properties) ClearSubscriptionIDs() { p.subIDs, p.subIDBytes, p.subIDsCount = nil, 0, 0 }

// Clone returns a deep copy whose byte slices share one new allocation, for a
// value that must outlive its frame.
func (p *Properties) Clone() Properties {
	c := *p
	buf := make([]byte, 0, p.bytesLen())
	keep := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	for id := range byteProps() {
		f := c.bytesField(id)
		*f = keep(*f)
	}
	c.user = keep(p.user)
	c.subIDs = keep(p.subIDs)
	return c
}

func (p *Properties) bytesLen() int {
	n := len(p.user) + len(p.subIDs)
	for id := range byteProps() {
		n += len(*p.bytesField(id))
	}
	return n
}

// byteProps yields the identifiers of the string and binary properties.
func byteProps() iter.Seq[PropertyID] {
	return func(yield func(PropertyID) bool) {
		for id := range propTable {
			k := propTable[id].kind
			if (k == kindString || k == kindBinary) && !yield(PropertyID(id)) {
				return
			}
		}
	}
}

// Equal reports whether p and q hold the same properties with the same values,
// User Properties and Subscription Identifiers in the same order.
func (p Properties) Equal(q Properties) bool {
	if p.present != q.present || p.subIDsCount != q.subIDsCount {
		return false
	}
	for set := p.present; set != 0; set &= set - 1 {
		id := PropertyID(trailingZeros(set))
		switch kindOf(id) {
		case kindString, kindBinary:
			if string(*p.bytesField(id)) != string(*q.bytesField(id)) {
				return false
			}
		default:
			if p.num(id) != q.num(id) {
				return false
			}
		}
	}
	return p.sameRepeated(&q)
}

func (p *Properties) sameRepeated(q *Properties) bool {
	nextQ, stop := iter.Pull2(q.UserProperties())
	defer stop()
	for k, v := range p.UserProperties() {
		k2, v2, ok := nextQ()
		if !ok || string(k) != string(k2) || string(v) != string(v2) {
			return false
		}
	}
	if _, _, ok := nextQ(); ok {
		return false
	}
	nextID, stopID := iter.Pull(q.SubscriptionIDs())
	defer stopID()
	for id := range p.SubscriptionIDs() {
		if id2, ok := nextID(); !ok || id != id2 {
			return false
		}
	}
	return true
}
