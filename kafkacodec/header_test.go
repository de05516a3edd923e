package kafkacodec_test

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

func strPtr(s string) *string { return &s }

// headerBytes builds a request header by hand: tags == nil means header v1.
func headerBytes(key, version int16, corr int32, clientID *string, tags []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	return append(b, tags...)
}

func TestParseRequestHeader(t *testing.T) {
	t.Parallel()
	body := []byte{0xde, 0xad}
	twoTags := []byte{2, 0, 1, 0xaa, 5, 3, 1, 2, 3} // tag 0 = aa, tag 5 = 010203
	for _, tc := range []struct {
		name  string
		frame []byte
		want  kafkacodec.RequestHeader
	}{
		{"v1", append(headerBytes(3, 1, 7, strPtr("abc"), nil), body...),
			kafkacodec.RequestHeader{APIKey: 3, APIVersion: 1, CorrelationID: 7, ClientID: strPtr("abc")}},
		{"v1/null-client-id", append(headerBytes(1, 4, -3, nil, nil), body...),
			kafkacodec.RequestHeader{APIKey: 1, APIVersion: 4, CorrelationID: -3}},
		{"v1/empty-client-id", append(headerBytes(0, 3, 0, strPtr(""), nil), body...),
			kafkacodec.RequestHeader{APIKey: 0, APIVersion: 3, ClientID: strPtr("")}},
		{"v2/no-tags", append(headerBytes(3, 9, 1, strPtr("kgo"), []byte{0}), body...),
			kafkacodec.RequestHeader{APIKey: 3, APIVersion: 9, CorrelationID: 1, ClientID: strPtr("kgo")}},
		{"v2/unknown-tags-skipped", append(headerBytes(1, 12, 2, strPtr("kgo"), twoTags), body...),
			kafkacodec.RequestHeader{APIKey: 1, APIVersion: 12, CorrelationID: 2, ClientID: strPtr("kgo")}},
		{"v2/null-client-id", append(headerBytes(60, 0, 9, nil, []byte{0}), body...),
			kafkacodec.RequestHeader{APIKey: 60, CorrelationID: 9}},
		{"v2/api-versions-above-max", append(headerBytes(18, 5, 4, strPtr("kgo"), []byte{0}), body...),
			kafkacodec.RequestHeader{APIKey: 18, APIVersion: 5, CorrelationID: 4, ClientID: strPtr("kgo")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, gotBody, err := kafkacodec.ParseRequestHeader(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if !cmp.Equal(body, gotBody) {
				t.Errorf("body = %x, want %x", gotBody, body)
			}
		})
	}
}

func TestParseRequestHeaderTruncated(t *testing.T) {
	t.Parallel()
	for _, frame := range [][]byte{
		headerBytes(3, 1, 7, strPtr("abc"), nil),
		headerBytes(3, 9, 7, strPtr("abc"), []byte{1, 0, 2, 0xaa, 0xbb}),
	} {
		for n := range len(frame) {
			_, _, err := kafkacodec.ParseRequestHeader(frame[:n])
			if !errors.Is(err, kafkacodec.ErrMalformed) {
				t.Errorf("%x cut at %d: err = %v, want ErrMalformed", frame, n, err)
			}
		}
	}
}

func TestParseRequestHeaderHostile(t *testing.T) {
	t.Parallel()
	for name, frame := range map[string][]byte{
		"client-id-past-end": append(headerBytes(3, 1, 7, nil, nil)[:8], 0x7f, 0xff, 'a'),
		"huge-tag-count":     headerBytes(3, 9, 7, strPtr("x"), []byte{0xff, 0xff, 0xff, 0xff, 0x0f}),
		"huge-tag-size":      headerBytes(3, 9, 7, strPtr("x"), []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x07}),
		"long-uvarint":       headerBytes(3, 9, 7, strPtr("x"), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}),
	} {
		if _, _, err := kafkacodec.ParseRequestHeader(frame); !errors.Is(err, kafkacodec.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestParseRequestHeaderUnsupported: a key or version we do not serve is
// parsed as far as possible, for the log, and reported as unsupported.
func TestParseRequestHeaderUnsupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		frame []byte
		want  kafkacodec.RequestHeader
	}{
		{"fetch-v13", headerBytes(1, 13, 5, strPtr("kgo"), []byte{0}),
			kafkacodec.RequestHeader{APIKey: 1, APIVersion: 13, CorrelationID: 5, ClientID: strPtr("kgo")}},
		{"produce-v2", headerBytes(0, 2, 5, strPtr("old"), nil),
			kafkacodec.RequestHeader{APIKey: 0, APIVersion: 2, CorrelationID: 5, ClientID: strPtr("old")}},
		{"sasl-handshake", headerBytes(17, 1, 6, strPtr("x"), nil),
			kafkacodec.RequestHeader{APIKey: 17, APIVersion: 1, CorrelationID: 6, ClientID: strPtr("x")}},
		{"telemetry", headerBytes(71, 0, 8, strPtr("kgo"), []byte{0}),
			kafkacodec.RequestHeader{APIKey: 71, CorrelationID: 8, ClientID: strPtr("kgo")}},
		{"unknown-key", headerBytes(1000, 0, 9, nil, nil),
			kafkacodec.RequestHeader{APIKey: 1000, CorrelationID: 9}},
		{"api-versions-negative", headerBytes(18, -1, 1, nil, nil),
			kafkacodec.RequestHeader{APIKey: 18, APIVersion: -1, CorrelationID: 1}},
		{"unsupported-and-truncated", headerBytes(1, 13, 5, strPtr("kgo"), nil)[:10],
			kafkacodec.RequestHeader{APIKey: 1, APIVersion: 13, CorrelationID: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, err := kafkacodec.ParseRequestHeader(tc.frame)
			if !errors.Is(err, kafkacodec.ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if _, err := kafkacodec.DecodeRequest(h, nil); !errors.Is(err, kafkacodec.ErrUnsupported) {
				t.Errorf("DecodeRequest err = %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestFrameLen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		b    []byte
		n    int
		okay bool
	}{
		{nil, 0, false},
		{[]byte{0, 0, 0}, 0, false},
		{[]byte{0, 0, 0, 0}, 4, true},
		{[]byte{0, 0, 1, 0, 9, 9}, 260, true},
		{[]byte{0x7f, 0xff, 0xff, 0xff}, math.MaxInt32 + 4, true},
		{[]byte{0xff, 0xff, 0xff, 0xff}, math.MaxInt, true}, // -1 as int32
	} {
		if n, ok := kafkacodec.FrameLen(tc.b); n != tc.n || ok != tc.okay {
			t.Errorf("FrameLen(%x) = %d, %v; want %d, %v", tc.b, n, ok, tc.n, tc.okay)
		}
	}
}

// TestVersions checks the advertised table against the list, and
// our flexible-version table against kmsg's.
func TestVersions(t *testing.T) {
	t.Parallel()
	want := []kafkacodec.VersionRange{
		{0, 3, 9}, {1, 4, 12}, {2, 0, 7}, {3, 0, 12}, {8, 0, 8}, {9, 0, 8}, {10, 0, 4},
		{11, 0, 9}, {12, 0, 4}, {13, 0, 5}, {14, 0, 5}, {15, 0, 5}, {16, 0, 4}, {18, 0, 3},
		{19, 0, 7}, {20, 0, 6}, {22, 0, 4}, {23, 0, 4}, {32, 0, 4}, {60, 0, 1},
	}
	if diff := cmp.Diff(want, kafkacodec.Versions()); diff != "" {
		t.Fatalf("Versions (-want +got):\n%s", diff)
	}
	for _, vr := range want {
		req := kmsg.RequestForKey(vr.APIKey)
		for v := int16(0); v <= vr.Max+2; v++ {
			req.SetVersion(v)
			if got := kafkacodec.IsFlexible(vr.APIKey, v); got != req.IsFlexible() {
				t.Errorf("IsFlexible(%d, %d) = %v, kmsg says %v", vr.APIKey, v, got, req.IsFlexible())
			}
		}
	}
	if kafkacodec.IsFlexible(1000, 5) {
		t.Error("IsFlexible of an unknown key")
	}
	if got := kafkacodec.RequestName(3); got != "Metadata" {
		t.Errorf("RequestName(3) = %q", got)
	}
	if got := kafkacodec.RequestName(-7); got != "Unknown" {
		t.Errorf("RequestName(-7) = %q", got)
	}
}

// respFrame splits a response frame, checking its size prefix.
func respFrame(t *testing.T, frame []byte) (corr int32, rest []byte) {
	t.Helper()
	n, ok := kafkacodec.FrameLen(frame)
	if !ok || n != len(frame) {
		t.Fatalf("frame of %d bytes says %d", len(frame), n)
	}
	return int32(binary.BigEndian.Uint32(frame[4:])), frame[8:]
}

// TestApiVersionsKIP511: ApiVersions above our maximum, as kgo (v5, with
// its KIP-1242 fields and tags) and Java 3.9 (v4) send it, gets a v0-format
// body with UNSUPPORTED_VERSION and our ApiVersions range, under a v0
// response header.
func TestApiVersionsKIP511(t *testing.T) {
	t.Parallel()
	for _, v := range []int16{4, 5} {
		req := &kmsg.ApiVersionsRequest{Version: v, ClientSoftwareName: "kgo",
			ClientSoftwareVersion: "1.22.2", ClusterID: strPtr("cluster"), NodeID: 1}
		frame, _ := reqEncode(t, req, 77)
		h, body, err := kafkacodec.ParseRequestHeader(frame)
		if err != nil {
			t.Fatalf("v%d: header: %v", v, err)
		}
		if len(body) == 0 {
			t.Fatalf("v%d: no body", v)
		}
		if _, err := kafkacodec.DecodeRequest(h, body); !errors.Is(err, kafkacodec.ErrUnsupported) {
			t.Fatalf("v%d: DecodeRequest err = %v, want ErrUnsupported", v, err)
		}
		want := kmsg.NewPtrApiVersionsResponse()
		want.Version = 0
		want.ErrorCode = 35
		want.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 3}}
		wantFrame := binary.BigEndian.AppendUint32(nil, 0)
		wantFrame = binary.BigEndian.AppendUint32(wantFrame, 77)
		wantFrame = want.AppendTo(wantFrame)
		binary.BigEndian.PutUint32(wantFrame, uint32(len(wantFrame)-4))
		got := kafkacodec.AppendApiVersionsResponse([]byte("prefix"), h)
		if string(got[:6]) != "prefix" {
			t.Fatalf("dst prefix lost: %q", got[:6])
		}
		if !cmp.Equal(wantFrame, got[6:]) {
			t.Errorf("v%d: response %x, want %x", v, got[6:], wantFrame)
		}
	}
}

// TestApiVersionsResponse: at a version we serve, the response lists
// Versions() and keeps header v0 even when flexible (v3).
func TestApiVersionsResponse(t *testing.T) {
	t.Parallel()
	var wantKeys []kmsg.ApiVersionsResponseApiKey
	for _, vr := range kafkacodec.Versions() {
		wantKeys = append(wantKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: vr.APIKey, MinVersion: vr.Min, MaxVersion: vr.Max})
	}
	for v := int16(0); v <= 3; v++ {
		frame := kafkacodec.AppendApiVersionsResponse(nil, kafkacodec.RequestHeader{APIKey: 18, APIVersion: v, CorrelationID: 5})
		corr, body := respFrame(t, frame)
		if corr != 5 {
			t.Errorf("v%d: correlation id %d", v, corr)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = v
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("v%d: kmsg cannot read the body (a tag byte in the header?): %v", v, err)
		}
		if resp.ErrorCode != 0 {
			t.Errorf("v%d: error code %d", v, resp.ErrorCode)
		}
		if diff := cmp.Diff(wantKeys, resp.ApiKeys, reqCmpOpts...); diff != "" {
			t.Errorf("v%d: ApiKeys (-want +got):\n%s", v, diff)
		}
		if again := resp.AppendTo(nil); !cmp.Equal(again, body) {
			t.Errorf("v%d: body %x has bytes kmsg does not read back (%x)", v, body, again)
		}
	}
}

// TestAppendResponse: flexible responses get the header's tag byte, classic
// ones and ApiVersions do not; kmsg reads the body back.
func TestAppendResponse(t *testing.T) {
	t.Parallel()
	meta := func(v int16) kmsg.Response {
		r := kmsg.NewPtrMetadataResponse()
		r.Version = v
		r.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "localhost", Port: 9092}}
		r.ClusterID = strPtr("tributary")
		return r
	}
	api3 := kmsg.NewPtrApiVersionsResponse()
	api3.Version = 3
	api3.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 0, MinVersion: 3, MaxVersion: 9}}
	for _, tc := range []struct {
		name    string
		resp    kmsg.Response
		tagByte bool
	}{
		{"metadata-v8-classic", meta(8), false},
		{"metadata-v9-flexible", meta(9), true},
		{"metadata-v12-flexible", meta(12), true},
		{"api-versions-v3-header-v0", api3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := kafkacodec.AppendResponse([]byte{1, 2, 3}, -9, tc.resp)
			if !cmp.Equal(frame[:3], []byte{1, 2, 3}) {
				t.Fatalf("dst prefix lost: %x", frame[:3])
			}
			corr, body := respFrame(t, frame[3:])
			if corr != -9 {
				t.Errorf("correlation id %d", corr)
			}
			if tc.tagByte {
				if body[0] != 0 {
					t.Fatalf("tag byte %x, want 0", body[0])
				}
				body = body[1:]
			}
			got := kmsg.ResponseForKey(tc.resp.Key())
			got.SetVersion(tc.resp.GetVersion())
			if err := got.ReadFrom(body); err != nil {
				t.Fatalf("kmsg ReadFrom: %v", err)
			}
			if diff := cmp.Diff(tc.resp, got, reqCmpOpts...); diff != "" {
				t.Errorf("read back (-sent +read):\n%s", diff)
			}
			if !cmp.Equal(got.AppendTo(nil), body) {
				t.Errorf("body %x has bytes kmsg does not read back", body)
			}
		})
	}
}

func TestRequestHeaderLogValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		h    kafkacodec.RequestHeader
		want string
	}{
		{kafkacodec.RequestHeader{APIKey: 1, APIVersion: 12, CorrelationID: 3, ClientID: strPtr("kgo")},
			"api_key=1 api_version=12 client_id=kgo"},
		{kafkacodec.RequestHeader{APIKey: 18, APIVersion: 5}, "api_key=18 api_version=5 client_id=\"\""},
		{kafkacodec.RequestHeader{ClientID: &long}, "api_key=0 api_version=0 client_id=" + long[:256]},
	} {
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: dropTime})).Info("", "h", tc.h)
		want := "level=INFO msg=\"\" " + strings.ReplaceAll("h."+tc.want, " ", " h.") + "\n"
		if got := b.String(); got != want {
			t.Errorf("logged %q, want %q", got, want)
		}
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
