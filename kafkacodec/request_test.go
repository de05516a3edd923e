package kafkacodec_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// reqFill says how reqFillValue populates a kmsg request.
type reqFill struct {
	rnd     *rand.Rand
	nilPtrs bool // nullable fields (pointers) nil rather than set
	elems   int  // elements per slice; -1 leaves slices nil
	empty   bool // strings and byte slices empty (non-nil)
}

// reqVariants are the populations every (key, version) is tested with.
var reqVariants = []struct {
	name string
	fill reqFill
}{
	{"full", reqFill{elems: 2}},
	{"nil-pointers", reqFill{elems: 2, nilPtrs: true}},
	{"empty", reqFill{elems: 0, empty: true}},
	{"nil-slices", reqFill{elems: -1, nilPtrs: true}},
}

// reqFillValue populates every exported field of v (a kmsg request or one
// of its parts), whether or not the version encodes it: kmsg's encoder
// leaves out what the version does not have, and the oracle decode shows
// what is left.
func reqFillValue(v reflect.Value, f *reqFill) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[kmsg.Tags]() {
			return
		}
		for i := range v.NumField() {
			if sf := v.Type().Field(i); sf.IsExported() && sf.Name != "Version" {
				reqFillValue(v.Field(i), f)
			}
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.rnd.Uint64()))
	case reflect.String:
		v.SetString(reqRandString(f))
	case reflect.Pointer:
		if f.nilPtrs {
			return
		}
		p := reflect.New(v.Type().Elem())
		reqFillValue(p.Elem(), f)
		v.Set(p)
	case reflect.Array:
		for i := range v.Len() {
			v.Index(i).SetUint(f.rnd.Uint64() & 0xff)
		}
	case reflect.Slice:
		reqFillSlice(v, f)
	}
}

func reqFillSlice(v reflect.Value, f *reqFill) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		b := []byte{}
		if !f.empty {
			b = []byte(reqRandString(f))
		}
		v.SetBytes(b)
		return
	}
	if f.elems < 0 {
		return
	}
	s := reflect.MakeSlice(v.Type(), f.elems, f.elems)
	for i := range f.elems {
		reqFillValue(s.Index(i), f)
	}
	v.Set(s)
}

func reqRandString(f *reqFill) string {
	if f.empty {
		return ""
	}
	b := make([]byte, 1+f.rnd.IntN(12))
	for i := range b {
		b[i] = byte('a' + f.rnd.IntN(26))
	}
	return string(b)
}

// reqCase is one encoded request of the differential tests.
type reqCase struct {
	name         string
	key, version int16
	frame        []byte // the frame without its size prefix: header and body
	body         []byte
}

// reqEncode encodes req with kmsg's own encoder and request header.
func reqEncode(t testing.TB, req kmsg.Request, correlationID int32) (frame, body []byte) {
	t.Helper()
	full := kmsg.NewRequestFormatter(kmsg.FormatterClientID("tributary-test")).AppendRequest(nil, req, correlationID)
	n, ok := kafkacodec.FrameLen(full)
	if !ok || n != len(full) {
		t.Fatalf("FrameLen = %d, %v; want %d, true", n, ok, len(full))
	}
	frame = full[4:]
	body = req.AppendTo(nil)
	return frame, frame[len(frame)-len(body):]
}

// reqCases builds, for every advertised (key, version), one request per
// fill variant.
func reqCases(t testing.TB) []reqCase {
	t.Helper()
	var out []reqCase
	for _, vr := range kafkacodec.Versions() {
		for v := vr.Min; v <= vr.Max; v++ {
			for i, variant := range reqVariants {
				fill := variant.fill
				fill.rnd = rand.New(rand.NewPCG(uint64(vr.APIKey), uint64(v)<<8|uint64(i)))
				req := kmsg.RequestForKey(vr.APIKey)
				req.SetVersion(v)
				reqFillValue(reflect.ValueOf(req).Elem(), &fill)
				frame, body := reqEncode(t, req, int32(v)+1)
				out = append(out, reqCase{
					name: fmt.Sprintf("%s/v%d/%s", kafkacodec.RequestName(vr.APIKey), v, variant.name),
					key:  vr.APIKey, version: v, frame: frame, body: body,
				})
			}
		}
	}
	return out
}

// reqOracle decodes body with kmsg's own decoder. Only bytes the tests made
// reach it.
func reqOracle(t testing.TB, key, version int16, body []byte) kmsg.Request {
	t.Helper()
	want := kmsg.RequestForKey(key)
	want.SetVersion(version)
	if err := want.ReadFrom(body); err != nil {
		t.Fatalf("kmsg ReadFrom: %v", err)
	}
	return want
}

var reqCmpOpts = []cmp.Option{cmp.AllowUnexported(kmsg.Tags{})}

// reqDecodeFrame parses the header of frame and decodes its body.
func reqDecodeFrame(frame []byte) (kafkacodec.RequestHeader, kmsg.Request, error) {
	h, body, err := kafkacodec.ParseRequestHeader(frame)
	if err != nil {
		return h, nil, err
	}
	req, err := kafkacodec.DecodeRequest(h, body)
	return h, req, err
}

// TestDecodeRequestMatchesKmsg is the differential oracle: for every
// advertised (key, version) and fill variant, our decoder and kmsg's give
// the same request for the same trusted bytes.
func TestDecodeRequestMatchesKmsg(t *testing.T) {
	t.Parallel()
	for _, c := range reqCases(t) {
		t.Run(c.name, func(t *testing.T) {
			h, got, err := reqDecodeFrame(c.frame)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if h.APIKey != c.key || h.APIVersion != c.version || h.CorrelationID != int32(c.version)+1 ||
				h.ClientID == nil || *h.ClientID != "tributary-test" {
				t.Fatalf("header = %+v", h)
			}
			want := reqOracle(t, c.key, c.version, c.body)
			if diff := cmp.Diff(want, got, reqCmpOpts...); diff != "" {
				t.Fatalf("decoded request differs from kmsg's (-kmsg +ours):\n%s", diff)
			}
			if got.GetVersion() != c.version {
				t.Fatalf("version = %d", got.GetVersion())
			}
		})
	}
}

// TestDecodeRequestMinimalElements checks the per-element minimum sizes the
// decoders bound array counts with: for every array of every request,
// a request whose array holds many minimal elements (every other field at
// its default, its enclosing arrays holding one element) must decode. An
// element minimum larger than the true one would reject it.
func TestDecodeRequestMinimalElements(t *testing.T) {
	t.Parallel()
	const many = 64
	for _, vr := range kafkacodec.Versions() {
		for v := vr.Min; v <= vr.Max; v++ {
			proto := kmsg.RequestForKey(vr.APIKey)
			for _, path := range reqSlicePaths(reflect.TypeOf(proto).Elem(), nil) {
				req := kmsg.RequestForKey(vr.APIKey)
				req.SetVersion(v)
				reqGrowPath(reflect.ValueOf(req).Elem(), path, many)
				name := fmt.Sprintf("%s/v%d/%v", kafkacodec.RequestName(vr.APIKey), v, path)
				_, body := reqEncode(t, req, 1)
				got, err := kafkacodec.DecodeRequest(kafkacodec.RequestHeader{APIKey: vr.APIKey, APIVersion: v}, body)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if diff := cmp.Diff(reqOracle(t, vr.APIKey, v, body), got, reqCmpOpts...); diff != "" {
					t.Errorf("%s: differs from kmsg (-kmsg +ours):\n%s", name, diff)
				}
			}
		}
	}
}

// reqSlicePaths lists the paths (field indexes) to every slice of structs
// or non-byte elements reachable from struct type t.
func reqSlicePaths(t reflect.Type, prefix []int) [][]int {
	var out [][]int
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		path := append(append([]int(nil), prefix...), i)
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[kmsg.Tags]():
			out = append(out, reqSlicePaths(f.Type, path)...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8:
			out = append(out, path)
			if f.Type.Elem().Kind() == reflect.Struct {
				out = append(out, reqSlicePaths(f.Type.Elem(), append(path, -1))...)
			}
		}
	}
	return out
}

// reqGrowPath fills the slice at path with n default elements; a -1 in the
// path steps into a one-element slice.
func reqGrowPath(v reflect.Value, path []int, n int) {
	f := v.Field(path[0])
	rest := path[1:]
	switch {
	case len(rest) == 0:
		f.Set(reqDefaultSlice(f.Type(), n))
	case rest[0] == -1:
		f.Set(reqDefaultSlice(f.Type(), 1))
		reqGrowPath(f.Index(0), rest[1:], n)
	default:
		reqGrowPath(f, rest, n)
	}
}

func reqDefaultSlice(t reflect.Type, n int) reflect.Value {
	s := reflect.MakeSlice(t, n, n)
	for i := range n {
		if d := s.Index(i).Addr().MethodByName("Default"); d.IsValid() {
			d.Call(nil)
		}
	}
	return s
}

// reqAllocOver returns the bytes fn allocates when that is over limit, or
// 0. A run may also count what the runtime or the test framework allocated
// meanwhile, so only the least of three runs counts (a decoder allocates
// the same every time). Tests that call it are not parallel, so that no
// other test's allocations are counted.
func reqAllocOver(limit uint64, fn func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		if least = min(least, after.TotalAlloc-before.TotalAlloc); least <= limit {
			return 0
		}
	}
	return least
}

// reqAllocLimit is what decoding n input bytes may allocate: a fixed
// overhead for the request struct and error, plus a small multiple of the
// input (a kmsg struct per minimum-sized element).
func reqAllocLimit(n int) uint64 { return 2048 + 32*uint64(n) }

// reqCheckBounded fails when a slice or string in v is longer than n: a
// decoder must never produce more elements than the input had bytes.
func reqCheckBounded(t testing.TB, v reflect.Value, n int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			reqCheckBounded(t, v.Elem(), n)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				reqCheckBounded(t, v.Field(i), n)
			}
		}
	case reflect.String, reflect.Slice:
		if v.Len() > n {
			t.Fatalf("%s of length %d from %d input bytes", v.Type(), v.Len(), n)
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				reqCheckBounded(t, v.Index(i), n)
			}
		}
	}
}

// reqCheckStable re-encodes a decoded request with kmsg and decodes it
// again: the result must be the same request.
func reqCheckStable(t testing.TB, h kafkacodec.RequestHeader, req kmsg.Request) {
	t.Helper()
	again, err := kafkacodec.DecodeRequest(h, req.AppendTo(nil))
	if err != nil {
		t.Fatalf("decode(encode(decode(x))): %v", err)
	}
	if !reflect.DeepEqual(req, again) { // fast; cmp says how they differ
		t.Fatalf("decode(encode(decode(x))) differs (-first +second):\n%s", cmp.Diff(req, again, reqCmpOpts...))
	}
}

// reqCheckError fails unless err is one of ours.
func reqCheckError(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, kafkacodec.ErrMalformed) && !errors.Is(err, kafkacodec.ErrUnsupported) {
		t.Fatalf("error %v wraps neither ErrMalformed nor ErrUnsupported", err)
	}
}
