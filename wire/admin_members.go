package wire

import (
	"context"
	"net/http"

	"tributary/cluster"
)

// MemberAdmin is what the member admin endpoint reads and changes: the
// cluster's membership (cluster.Membership implements it).
type MemberAdmin interface {
	Members(ctx context.Context) ([]cluster.MemberStatus, error)
	Remove(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
}

// addMemberRoutes serves the member admin API:
//
//	GET    /admin/members                     members with role, liveness and lag (JSON array)
//	DELETE /admin/members/{id}                remove a node from the cluster
//	POST   /admin/leadership/transfer[?to=ID] hand raft leadership over
//
// admin returns nil until the node can serve them (503). Every request is
// answered by the raft leader, through whichever node received it.
func addMemberRoutes(mux *http.ServeMux, admin func() MemberAdmin) {
	mux.HandleFunc("GET /admin/members", func(w http.ResponseWriter, r *http.Request) {
		a := admin()
		if a == nil {
			writeText(w, http.StatusServiceUnavailable, "starting: the node cannot list members yet\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
		defer cancel()
		ms, err := a.Members(ctx)
		if err != nil {
			writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
			return
		}
		writeJSON(w, http.StatusOK, ms)
	})
	mux.HandleFunc("DELETE /admin/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		memberChange(w, r, admin, func(ctx context.Context, a MemberAdmin) error { return a.Remove(ctx, id) })
	})
	mux.HandleFunc("POST /admin/leadership/transfer", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		memberChange(w, r, admin, func(ctx context.Context, a MemberAdmin) error { return a.TransferLeadership(ctx, to) })
	})
}

// memberChange runs change and answers 204, or 503 with the reason (no
// leader, unknown member, timeout).
func memberChange(w http.ResponseWriter, r *http.Request, admin func() MemberAdmin,
	change func(context.Context, MemberAdmin) error) {
	a := admin()
	if a == nil {
		writeText(w, http.StatusServiceUnavailable, "starting: the node cannot change members yet\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	if err := change(ctx, a); err != nil {
		writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
