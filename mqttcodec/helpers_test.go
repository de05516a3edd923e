package mqttcodec

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Builders for annotated wire bytes. frame computes the remaining length, so
// vectors spell out only the fields.

func frame(first byte, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat([]byte{first}, vbi(uint32(len(body))), body)
}

func cat(parts ...[]byte) []byte {
	out := []byte{}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func raw(b ...byte) []byte { return b }

func str(s string) []byte { return cat(u16(uint16(len(s))), []byte(s)) }

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func vbi(v uint32) []byte { return appendVarInt(nil, v) }

// props builds a property section from entries built by prop.
func props(entries ...[]byte) []byte {
	body := cat(entries...)
	return cat(vbi(uint32(len(body))), body)
}

func prop(id PropertyID, value ...[]byte) []byte {
	return cat(append([][]byte{{byte(id)}}, value...)...)
}

func user(k, v string) []byte { return prop(PropUserProperty, str(k), str(v)) }

// mkProps builds a Properties value with its setters.
func mkProps(set func(p *Properties)) Properties {
	var p Properties
	set(&p)
	return p
}

func must(err error) {
	if err != nil {
		panic("test vector: " + err.Error())
	}
}

func mkSubscribe(id uint16, pr Properties, subs ...Subscription) *Subscribe {
	p := &Subscribe{PacketID: id, Properties: pr}
	for _, s := range subs {
		must(p.Add(s))
	}
	return p
}

func mkUnsubscribe(id uint16, pr Properties, filters ...string) *Unsubscribe {
	p := &Unsubscribe{PacketID: id, Properties: pr}
	for _, f := range filters {
		must(p.Add([]byte(f)))
	}
	return p
}

// cmpOpts compares decoded packets: Properties through its Equal method, the
// wire-form entries of SUBSCRIBE and UNSUBSCRIBE byte for byte.
var cmpOpts = cmp.Options{
	cmp.AllowUnexported(Subscribe{}, Unsubscribe{}),
	cmpopts.EquateEmpty(),
}

// wantReason asserts that err is a *ReasonError with the given code and
// clause.
func wantReason(t *testing.T, err error, code ReasonCode, clause string) {
	t.Helper()
	var re *ReasonError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a *ReasonError %v [%s]", err, code, clause)
	}
	if re.Code != code || (clause != "" && re.Clause != clause) {
		t.Fatalf("error = %v (code %#x, clause %s), want code %#x clause %s", err, byte(re.Code), re.Clause, byte(code), clause)
	}
	if code == MalformedPacket && !errors.Is(err, ErrMalformed) {
		t.Fatalf("errors.Is(%v, ErrMalformed) = false", err)
	}
	if code == ProtocolError && !errors.Is(err, ErrProtocol) {
		t.Fatalf("errors.Is(%v, ErrProtocol) = false", err)
	}
}

// encode appends p for v and fails the test on error.
func encode(t testing.TB, p Packet, v Version) []byte {
	t.Helper()
	b, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("Append(%v, %v): %v", p.Type(), v, err)
	}
	if len(b) != p.Size(v) {
		t.Fatalf("Size(%v) = %d, Append wrote %d bytes", v, p.Size(v), len(b))
	}
	return b
}
