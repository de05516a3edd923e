package kafkacodec_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// hostileBody is the body from the issue: for ApiVersions v3 it reads two
// empty compact strings and then a tag count of 2^32-1, on which kmsg's
// decoder loops for minutes.
var hostileBody = []byte{0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f}

// hostileShapes are same-shaped bodies: huge counts and lengths, classic
// and compact, at the first positions of a body.
var hostileShapes = [][]byte{
	hostileBody,
	{0xff, 0xff, 0xff, 0xff, 0x0f},             // uvarint 2^32-1: a compact count, length or tag count
	{0x7f, 0xff, 0xff, 0xff},                   // int32 max: an array count or bytes length
	{0x7f, 0xff},                               // int16 max: a string length
	{0x00, 0x00, 0x7f, 0xff, 0xff, 0xff},       // empty string, then a huge count
	{0x01, 0xff, 0xff, 0xff, 0xff, 0x0f},       // empty compact string, then a huge count
	{0x01, 0x01, 0x01, 0xff, 0xff, 0xff, 0x7f}, // three empty compact fields, then a huge uvarint
	{0x80, 0x80, 0x80, 0x80, 0x80, 0x01},       // a uvarint longer than 5 bytes
	{0xff, 0xff, 0xff, 0xff, 0xff},             // a uvarint past 32 bits
	{0x80, 0x00, 0x00, 0x00},                   // int32 min
}

// emptyBody reports the (key, version)s whose body has no field at all:
// any bytes decode, as Kafka ignores what follows a body.
func emptyBody(key, version int16) bool {
	return (key == 18 || key == 16) && version <= 2
}

// TestDecodeRequestHostileCounts feeds the 7-byte body and its
// variants to every advertised (key, version): each must fail with
// ErrMalformed (or, for empty bodies, decode), and allocate little.
func TestDecodeRequestHostileCounts(t *testing.T) {
	for _, vr := range kafkacodec.Versions() {
		for v := vr.Min; v <= vr.Max; v++ {
			h := kafkacodec.RequestHeader{APIKey: vr.APIKey, APIVersion: v}
			for i, body := range hostileShapes {
				name := fmt.Sprintf("%s/v%d/shape%d", kafkacodec.RequestName(vr.APIKey), v, i)
				req, err := hostileDecode(t, name, h, body)
				if i == 0 && !emptyBody(h.APIKey, v) && !errors.Is(err, kafkacodec.ErrMalformed) {
					t.Errorf("%s: err = %v, want ErrMalformed", name, err)
				}
				if emptyBody(h.APIKey, v) && err != nil {
					t.Errorf("%s: body of no fields: err = %v", name, err)
				}
				if err == nil {
					reqCheckStable(t, h, req)
				}
			}
		}
	}
}

// TestDecodeRequestSplicedCounts writes huge counts and lengths over every
// position of every valid test request, and truncates it at every length:
// decoding must fail or succeed, never panic, loop long or allocate much,
// and a successful decode must be stable.
func TestDecodeRequestSplicedCounts(t *testing.T) {
	patterns := [][]byte{{0xff, 0xff, 0xff, 0xff, 0x0f}, {0x7f, 0xff, 0xff, 0xff}, {0x7f, 0xff}, {0xff}}
	for _, c := range reqCases(t) {
		if c.name[len(c.name)-4:] != "full" {
			continue
		}
		h := kafkacodec.RequestHeader{APIKey: c.key, APIVersion: c.version}
		for at := range c.body {
			for pi, p := range patterns {
				body := bytes.Clone(c.body)
				copy(body[at:], p)
				req, err := hostileDecode(t, fmt.Sprintf("%s/at%d/p%d", c.name, at, pi), h, body)
				if err == nil {
					reqCheckStable(t, h, req)
				}
			}
			// A body shorter than its fields is malformed.
			if _, err := hostileDecode(t, fmt.Sprintf("%s/cut%d", c.name, at), h, c.body[:at]); !errors.Is(err, kafkacodec.ErrMalformed) {
				t.Fatalf("%s cut at %d of %d: err = %v, want ErrMalformed", c.name, at, len(c.body), err)
			}
		}
	}
}

// hostileDecode decodes body and checks the error kind, the allocation
// bound and the lengths of what it decoded.
func hostileDecode(t *testing.T, name string, h kafkacodec.RequestHeader, body []byte) (req kmsg.Request, err error) {
	t.Helper()
	limit := reqAllocLimit(len(body))
	if alloc := reqAllocOver(limit, func() { req, err = kafkacodec.DecodeRequest(h, body) }); alloc > 0 {
		t.Errorf("%s: decoding %d bytes allocated %d bytes, limit %d", name, len(body), alloc, limit)
	}
	if err != nil {
		reqCheckError(t, err)
		return nil, err
	}
	reqCheckBounded(t, reflect.ValueOf(req), len(body))
	return req, nil
}
