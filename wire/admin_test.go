package wire_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"tributary/cluster"
	"tributary/wire"
)

// mappingTable is an in-memory MappingAdmin: the endpoint's own contract,
// with the errors cluster.Node returns.
type mappingTable struct {
	mu    sync.Mutex
	specs map[string]cluster.MappingSpec
}

func (m *mappingTable) Mappings() []cluster.MappingSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []cluster.MappingSpec
	for _, s := range m.specs {
		out = append(out, s)
	}
	return out
}

func (m *mappingTable) SetMapping(_ context.Context, s cluster.MappingSpec) error {
	if s.MQTTToKafka == nil && s.KafkaToMQTT == nil {
		return fmt.Errorf("%w: no direction", cluster.ErrInvalidMapping)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.specs[s.Name] = s
	return nil
}

func (m *mappingTable) DeleteMapping(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.specs[name]; !ok {
		return fmt.Errorf("%w: %s", cluster.ErrUnknownMapping, name)
	}
	delete(m.specs, name)
	return nil
}

func send(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The admin API answers each outcome with its status: 204 for a change,
// 400 for an invalid mapping or body, 404 for an unknown one, 503 while
// the node cannot change mappings yet.
func TestHTTP_AdminMappings(t *testing.T) {
	table := &mappingTable{specs: map[string]cluster.MappingSpec{}}
	var ready atomic.Bool
	s := startHTTP(t, wire.HTTPConfig{Mappings: func() wire.MappingAdmin {
		if !ready.Load() {
			return nil
		}
		return table
	}})
	if code, _ := send(t, http.MethodGet, url(s, "/admin/mappings"), ""); code != http.StatusServiceUnavailable {
		t.Fatalf("GET before the node is up = %d, want 503", code)
	}
	ready.Store(true)
	good := `{"mqtt_to_kafka": {"filters": ["a/#"], "kafka_topic": "t"}}`
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPut, "/admin/mappings/m1", good, http.StatusNoContent},
		{http.MethodPut, "/admin/mappings/m2", `{"name": "other"}`, http.StatusBadRequest},
		{http.MethodPut, "/admin/mappings/m2", `{"nope": 1}`, http.StatusBadRequest},
		{http.MethodPut, "/admin/mappings/m2", `{}`, http.StatusBadRequest},
		{http.MethodDelete, "/admin/mappings/missing", "", http.StatusNotFound},
	} {
		if code, body := send(t, tc.method, url(s, tc.path), tc.body); code != tc.want {
			t.Errorf("%s %s %s = %d %q, want %d", tc.method, tc.path, tc.body, code, body, tc.want)
		}
	}
	code, body := send(t, http.MethodGet, url(s, "/admin/mappings"), "")
	var got []cluster.MappingSpec
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || len(got) != 1 ||
		got[0].Name != "m1" || got[0].MQTTToKafka.KafkaTopic != "t" {
		t.Fatalf("GET /admin/mappings = %d %q (%v), want the one mapping m1", code, body, err)
	}
	if code, _ := send(t, http.MethodDelete, url(s, "/admin/mappings/m1"), ""); code != http.StatusNoContent {
		t.Fatalf("DELETE m1 = %d, want 204", code)
	}
}

// Go's profiler answers on the HTTP endpoint.
func TestHTTP_Pprof(t *testing.T) {
	s := startHTTP(t, wire.HTTPConfig{})
	if code, _, body := request(t, http.MethodGet, url(s, "/debug/pprof/")); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ = %d, want 200 with the profile index", code)
	}
}
