package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"tributary/cluster"
)

// MappingAdmin is what the admin endpoint changes: the node's MQTT<->Kafka
// mappings (cluster.Node implements it).
type MappingAdmin interface {
	Mappings() []cluster.MappingSpec
	SetMapping(ctx context.Context, spec cluster.MappingSpec) error
	DeleteMapping(ctx context.Context, name string) error
}

// maxAdminBodyBytes bounds an admin request body; a mapping is a few
// hundred bytes.
const maxAdminBodyBytes = 64 << 10

// adminTimeout bounds one admin change, which waits for a raft commit.
const adminTimeout = 10 * time.Second

// errNoAdmin answers admin requests while the node is still starting.
var errNoAdmin = errors.New("starting: the node cannot change mappings yet")

// addAdminRoutes serves the mapping admin API under /admin/mappings:
//
//	GET    /admin/mappings         every mapping, as a JSON array
//	PUT    /admin/mappings/{name}  add or replace one (JSON body)
//	DELETE /admin/mappings/{name}  remove one
//
// admin returns nil until the node can serve them (503).
func addAdminRoutes(mux *http.ServeMux, admin func() MappingAdmin) {
	mux.HandleFunc("GET /admin/mappings", func(w http.ResponseWriter, _ *http.Request) {
		a := admin()
		if a == nil {
			writeText(w, http.StatusServiceUnavailable, errNoAdmin.Error()+"\n")
			return
		}
		writeJSON(w, http.StatusOK, a.Mappings())
	})
	mux.HandleFunc("PUT /admin/mappings/{name}", func(w http.ResponseWriter, r *http.Request) {
		var spec cluster.MappingSpec
		dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("mapping body: %v\n", err))
			return
		}
		name := r.PathValue("name")
		if spec.Name != "" && spec.Name != name {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("body names mapping %q, path %q\n", spec.Name, name))
			return
		}
		spec.Name = name
		adminChange(w, r, admin, func(ctx context.Context, a MappingAdmin) error { return a.SetMapping(ctx, spec) })
	})
	mux.HandleFunc("DELETE /admin/mappings/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		adminChange(w, r, admin, func(ctx context.Context, a MappingAdmin) error { return a.DeleteMapping(ctx, name) })
	})
}

// adminChange runs change and answers 204, or the error: 404 for an
// unknown mapping, 400 for an invalid one, 503 otherwise (not leader,
// timeout: try again).
func adminChange(w http.ResponseWriter, r *http.Request, admin func() MappingAdmin,
	change func(context.Context, MappingAdmin) error) {
	a := admin()
	if a == nil {
		writeText(w, http.StatusServiceUnavailable, errNoAdmin.Error()+"\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	err := change(ctx, a)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, cluster.ErrUnknownMapping):
		writeText(w, http.StatusNotFound, err.Error()+"\n")
	case errors.Is(err, cluster.ErrInvalidMapping):
		writeText(w, http.StatusBadRequest, err.Error()+"\n")
	default:
		writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client hanging up is not our error
}
