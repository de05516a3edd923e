package mqttcodec

import (
	"fmt"
	"testing"
)

// One test per normative statement, named after it, as etcd's raft_paper_test
// maps tests to sentences. Each runs the vectors annotated with the clause
// (runClause fails if there is none) and adds what a vector cannot say.
// Statement numbers are 5.0's unless the test name says 3.1.1 (V311).

func TestData_MQTT_1_5_4_1(t *testing.T) { runClause(t, "MQTT-1.5.4-1") }
func TestData_MQTT_1_5_4_2(t *testing.T) { runClause(t, "MQTT-1.5.4-2") }

func TestData_V311_MQTT_1_5_3_1(t *testing.T) { runClause(t, "MQTT-1.5.3-1") }
func TestData_V311_MQTT_1_5_3_2(t *testing.T) { runClause(t, "MQTT-1.5.3-2") }

// TestData_MQTT_1_5_4_3: a BOM is a character like any other; it must not be
// stripped.
func TestData_MQTT_1_5_4_3(t *testing.T) {
	raw := frame(0x30, str("\xEF\xBB\xBFa"), props())
	var p Publish
	if err := DecodePublish(raw, V5, &p); err != nil {
		t.Fatal(err)
	}
	if string(p.Topic) != "\xEF\xBB\xBFa" {
		t.Fatalf("topic = %q, BOM stripped", p.Topic)
	}
}

func TestData_MQTT_1_5_5_1(t *testing.T) {
	runClause(t, "MQTT-1.5.5-1")
	if _, err := FrameLen(raw(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), 0); err == nil {
		t.Fatal("FrameLen accepted a five-byte remaining length")
	} else {
		wantReason(t, err, MalformedPacket, "MQTT-1.5.5-1")
	}
}

func TestFixedHeader_MQTT_2_1_3_1(t *testing.T)      { runClause(t, "MQTT-2.1.3-1") }
func TestFixedHeader_V311_MQTT_2_2_2_1(t *testing.T) { runClause(t, "MQTT-2.2.2-1") }
func TestPacketID_MQTT_2_2_1_3(t *testing.T)         { runClause(t, "MQTT-2.2.1-3") }
func TestPacketID_V311_MQTT_2_3_1_1(t *testing.T)    { runClause(t, "MQTT-2.3.1-1") }
func TestProperties_MQTT_2_2_2_1(t *testing.T)       { runClause(t, "MQTT-2.2.2-1") }
func TestProperties_MQTT_2_2_2_2(t *testing.T)       { runClause(t, "MQTT-2.2.2.2") }

func TestConnect_MQTT_3_1_2_1(t *testing.T)       { runClause(t, "MQTT-3.1.2-1") }
func TestConnect_MQTT_3_1_2_2(t *testing.T)       { runClause(t, "MQTT-3.1.2-2") }
func TestConnect_MQTT_3_1_2_3(t *testing.T)       { runClause(t, "MQTT-3.1.2-3") }
func TestConnect_MQTT_3_1_2_9(t *testing.T)       { runClause(t, "MQTT-3.1.2-9") }
func TestConnect_MQTT_3_1_2_11(t *testing.T)      { runClause(t, "MQTT-3.1.2-11") }
func TestConnect_MQTT_3_1_2_12(t *testing.T)      { runClause(t, "MQTT-3.1.2-12") }
func TestConnect_MQTT_3_1_2_13(t *testing.T)      { runClause(t, "MQTT-3.1.2-13") }
func TestConnect_V311_MQTT_3_1_2_14(t *testing.T) { runClause(t, "MQTT-3.1.2-14") }
func TestConnect_V311_MQTT_3_1_2_15(t *testing.T) { runClause(t, "MQTT-3.1.2-15") }
func TestConnect_MQTT_3_1_2_17(t *testing.T)      { runClause(t, "MQTT-3.1.2-17") }
func TestConnect_V311_MQTT_3_1_2_21(t *testing.T) { runClause(t, "MQTT-3.1.2-21") }
func TestConnect_V311_MQTT_3_1_2_22(t *testing.T) { runClause(t, "MQTT-3.1.2-22") }
func TestConnect_MQTT_3_1_3_3(t *testing.T)       { runClause(t, "MQTT-3.1.3-3") }
func TestConnect_V311_MQTT_3_1_3_8(t *testing.T)  { runClause(t, "MQTT-3.1.3-8") }

// TestConnect_MQTT_3_1_2_2_ErrorKeepsVersion: after an error the decoder has
// recorded the level it read, so the broker can pick the CONNACK's version.
func TestConnect_MQTT_3_1_2_2_ErrorKeepsVersion(t *testing.T) {
	var c Connect
	err := DecodeConnect(frame(0x10, str("MQTT"), raw(5, 0x01), u16(60), props(), str("c")), &c)
	wantReason(t, err, MalformedPacket, "MQTT-3.1.2-3")
	if c.Version != V5 {
		t.Fatalf("Version = %v, want 5.0", c.Version)
	}
	err = DecodeConnect(frame(0x10, str("MQTT"), raw(7, 0x02), u16(60), str("c")), &c)
	wantReason(t, err, UnsupportedProtocolVersion, "MQTT-3.1.2-2")
	if c.Version != 7 || c.Version.Valid() {
		t.Fatalf("Version = %v, want level 7", c.Version)
	}
}

func TestConnack_MQTT_3_2_2_1(t *testing.T)      { runClause(t, "MQTT-3.2.2-1") }
func TestConnack_MQTT_3_2_2_6(t *testing.T)      { runClause(t, "MQTT-3.2.2-6") }
func TestConnack_MQTT_3_2_2_8(t *testing.T)      { runClause(t, "MQTT-3.2.2-8") }
func TestConnack_V311_MQTT_3_2_2_4(t *testing.T) { runClause(t, "MQTT-3.2.2-4") }

func TestPublish_MQTT_3_3_1_2(t *testing.T)  { runClause(t, "MQTT-3.3.1-2") }
func TestPublish_MQTT_3_3_1_4(t *testing.T)  { runClause(t, "MQTT-3.3.1-4") }
func TestPublish_MQTT_3_3_2_1(t *testing.T)  { runClause(t, "MQTT-3.3.2-1") }
func TestPublish_MQTT_3_3_2_2(t *testing.T)  { runClause(t, "MQTT-3.3.2-2") }
func TestPublish_MQTT_3_3_2_8(t *testing.T)  { runClause(t, "MQTT-3.3.2-8") }
func TestPublish_MQTT_3_3_2_14(t *testing.T) { runClause(t, "MQTT-3.3.2-14") }
func TestPublish_MQTT_3_3_4_4(t *testing.T)  { runClause(t, "MQTT-3.3.4-4") }

// TestPublish_MQTT_3_3_2_18: User Properties keep their order, duplicates
// included, through decode and encode.
func TestPublish_MQTT_3_3_2_18(t *testing.T) {
	runClause(t, "MQTT-3.3.2-18")
	var p Publish
	if err := DecodePublish(frame(0x32, str("t"), u16(9), publishPropsRaw, raw('p')), V5, &p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, v := range p.Properties.UserProperties() {
		got = append(got, string(k)+"="+string(v))
	}
	if want := "[k1=v1 k2=v2 k1=again]"; fmt.Sprint(got) != want {
		t.Fatalf("user properties = %v, want %s", got, want)
	}
}

// TestPublish_MQTT_3_3_1_1: DUP is kept on decode and written on encode.
func TestPublish_MQTT_3_3_1_1(t *testing.T) { runClause(t, "MQTT-3.3.1-1") }

func TestPublish_MQTT_3_3_2_3_4(t *testing.T) { runClause(t, "MQTT-3.3.2.3.4") }

func TestAck_MQTT_3_4_2_1(t *testing.T)   { runClause(t, "MQTT-3.4.2-1") }
func TestAck_MQTT_3_5_2_1(t *testing.T)   { runClause(t, "MQTT-3.5.2-1") }
func TestAck_MQTT_3_6_1_1(t *testing.T)   { runClause(t, "MQTT-3.6.1-1") }
func TestAck_MQTT_3_6_2_1(t *testing.T)   { runClause(t, "MQTT-3.6.2-1") }
func TestAck_MQTT_3_7_2_1_1(t *testing.T) { runClause(t, "MQTT-3.7.2.1-1") }

func TestSubscribe_MQTT_3_8_1_1(t *testing.T)      { runClause(t, "MQTT-3.8.1-1") }
func TestSubscribe_MQTT_3_8_3_2(t *testing.T)      { runClause(t, "MQTT-3.8.3-2") }
func TestSubscribe_V311_MQTT_3_8_3_3(t *testing.T) { runClause(t, "MQTT-3.8.3-3") }
func TestSubscribe_MQTT_3_8_3_4(t *testing.T)      { runClause(t, "MQTT-3.8.3-4") }
func TestSubscribe_MQTT_3_8_3_5(t *testing.T)      { runClause(t, "MQTT-3.8.3-5") }
func TestSubscribe_MQTT_3_8_3_1(t *testing.T)      { runClause(t, "MQTT-3.8.3.1") }
func TestSuback_MQTT_3_9_3_2(t *testing.T)         { runClause(t, "MQTT-3.9.3-2") }
func TestUnsubscribe_MQTT_3_10_1_1(t *testing.T)   { runClause(t, "MQTT-3.10.1-1") }
func TestUnsubscribe_MQTT_3_10_3_2(t *testing.T)   { runClause(t, "MQTT-3.10.3-2") }
func TestUnsuback_MQTT_3_11_3_2(t *testing.T)      { runClause(t, "MQTT-3.11.3-2") }
func TestDisconnect_MQTT_3_14_1_1(t *testing.T)    { runClause(t, "MQTT-3.14.1-1") }
func TestDisconnect_MQTT_3_14_2_1(t *testing.T)    { runClause(t, "MQTT-3.14.2-1") }
func TestAuth_MQTT_3_15_1_1(t *testing.T)          { runClause(t, "MQTT-3.15.1-1") }
func TestAuth_MQTT_3_15_2_1(t *testing.T)          { runClause(t, "MQTT-3.15.2-1") }
func TestAuth_MQTT_3_15_2_2_2(t *testing.T)        { runClause(t, "MQTT-3.15.2.2.2") }

func TestTopic_MQTT_4_7_3_1(t *testing.T)      { runClause(t, "MQTT-4.7.3-1") }
func TestTopic_MQTT_4_7_0_1(t *testing.T)      { runClause(t, "MQTT-4.7.0-1") }
func TestTopic_MQTT_4_7_1_1(t *testing.T)      { runClause(t, "MQTT-4.7.1-1") }
func TestTopic_MQTT_4_7_1_2(t *testing.T)      { runClause(t, "MQTT-4.7.1-2") }
func TestTopic_V311_MQTT_4_7_1_3(t *testing.T) { runClause(t, "MQTT-4.7.1-3") }
func TestShared_MQTT_4_8_2_1(t *testing.T)     { runClause(t, "MQTT-4.8.2-1") }
func TestShared_MQTT_4_8_2_2(t *testing.T)     { runClause(t, "MQTT-4.8.2-2") }
