package kafkacodec_test

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// FuzzDecodeRequest feeds a request (header and body, without the size
// prefix) to ParseRequestHeader and DecodeRequest. It checks that they do
// not panic, that errors are ours, that decoding allocates at most
// reqAllocLimit and yields nothing longer than the input, and that
// decode(encode(decode(x))) == decode(x). The seeds (every advertised
// version, filled four ways, and the hostile bodies) run on every go test.
func FuzzDecodeRequest(f *testing.F) {
	for _, c := range reqCases(f) {
		f.Add(c.frame)
	}
	for _, vr := range kafkacodec.Versions() {
		for v := vr.Min; v <= vr.Max; v++ {
			var tags []byte
			if kafkacodec.IsFlexible(vr.APIKey, v) {
				tags = []byte{0}
			}
			f.Add(append(headerBytes(vr.APIKey, v, 1, strPtr("fuzz"), tags), hostileBody...))
		}
	}
	f.Add(headerBytes(18, 5, 1, strPtr("kgo"), []byte{0}))
	f.Add(headerBytes(1, 12, 1, nil, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := kafkacodec.ParseRequestHeader(frame)
		if err != nil {
			reqCheckError(t, err)
			return
		}
		if h.APIKey == 18 && h.APIVersion > 3 {
			fuzzCheckKIP511(t, h)
			return
		}
		var req kmsg.Request
		limit := reqAllocLimit(len(body))
		if alloc := reqAllocOver(limit, func() { req, err = kafkacodec.DecodeRequest(h, body) }); alloc > 0 {
			t.Fatalf("decoding %d bytes allocated %d, limit %d", len(body), alloc, limit)
		}
		if err != nil {
			reqCheckError(t, err)
			return
		}
		reqCheckBounded(t, reflect.ValueOf(req), len(body))
		reqCheckStable(t, h, req)
	})
}

// fuzzCheckKIP511 checks the answer to a too-new ApiVersions request.
func fuzzCheckKIP511(t *testing.T, h kafkacodec.RequestHeader) {
	t.Helper()
	corr, body := respFrame(t, kafkacodec.AppendApiVersionsResponse(nil, h))
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body); err != nil || corr != h.CorrelationID || resp.ErrorCode != 35 ||
		len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 {
		t.Fatalf("KIP-511 answer %x: %+v, %v", body, resp, err)
	}
}
