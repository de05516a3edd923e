package mqttcodec

import "testing"

func TestReasonCodeString(t *testing.T) {
	t.Parallel()
	for c, want := range map[ReasonCode]string{
		Success: "success", MalformedPacket: "malformed packet", WildcardSubscriptionsNotSupported: "wildcard subscriptions not supported",
		0x03: "reason-0x3",
	} {
		if c.String() != want {
			t.Errorf("%#x.String() = %q, want %q", byte(c), c.String(), want)
		}
	}
	if !ProtocolError.IsError() || GrantedQoS2.IsError() {
		t.Error("IsError")
	}
}

// TestReasonCodeValidFor checks a few cells of each table of 3.2.2.2 to 3.15.2.1.
func TestReasonCodeValidFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c    ReasonCode
		t    PacketType
		want bool
	}{
		{Success, TypeConnack, true}, {BadAuthenticationMethod, TypeConnack, true}, {DisconnectWithWillMessage, TypeConnack, false},
		{NoMatchingSubscribers, TypePuback, true}, {NoMatchingSubscribers, TypePubrec, true}, {PacketIdentifierNotFound, TypePuback, false},
		{PacketIdentifierNotFound, TypePubrel, true}, {PacketIdentifierNotFound, TypePubcomp, true}, {UnspecifiedError, TypePubrel, false},
		{GrantedQoS2, TypeSuback, true}, {WildcardSubscriptionsNotSupported, TypeSuback, true}, {NoSubscriptionExisted, TypeSuback, false},
		{NoSubscriptionExisted, TypeUnsuback, true}, {GrantedQoS1, TypeUnsuback, false},
		{DisconnectWithWillMessage, TypeDisconnect, true}, {SessionTakenOver, TypeDisconnect, true}, {ContinueAuthentication, TypeDisconnect, false},
		{ReAuthenticate, TypeAuth, true}, {UnspecifiedError, TypeAuth, false}, {Success, TypePublish, false},
	} {
		if got := tc.c.ValidFor(tc.t); got != tc.want {
			t.Errorf("%v.ValidFor(%v) = %v", tc.c, tc.t, got)
		}
	}
}

func TestConnackReturnCodeMapping(t *testing.T) {
	t.Parallel()
	for rc := ConnackReturnCode(0); rc <= RefusedNotAuthorized; rc++ {
		c, ok := rc.ReasonCode()
		if !ok {
			t.Fatalf("%v has no reason code", rc)
		}
		if back, ok := ConnackReturnCodeFor(c); !ok || back != rc {
			t.Errorf("%v → %v → %v, %v", rc, c, back, ok)
		}
		if !c.ValidFor(TypeConnack) {
			t.Errorf("%v maps to %v, not a CONNACK code", rc, c)
		}
	}
	if _, ok := ConnackReturnCode(6).ReasonCode(); ok {
		t.Error("return code 6 mapped")
	}
	for c := 0; c < 256; c++ {
		rc, ok := ConnackReturnCodeFor(ReasonCode(c))
		if ok && (rc > RefusedNotAuthorized || !ReasonCode(c).ValidFor(TypeConnack)) {
			t.Errorf("%v maps to %v", ReasonCode(c), rc)
		}
	}
	for _, c := range []ReasonCode{MalformedPacket, ProtocolError, QoSNotSupported, RetainNotSupported} {
		if _, ok := ConnackReturnCodeFor(c); ok {
			t.Errorf("%v maps to a 3.1.1 return code; 3.1.1 closes without one", c)
		}
	}
	if RefusedBadUserNameOrPassword.String() != "refused: bad user name or password" || ConnackReturnCode(9).String() != "return-code-0x9" {
		t.Error("ConnackReturnCode.String")
	}
}
