package groups

import (
	"testing"
	"testing/synctest"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Relinquish forgets the groups keep refuses: a blocked join of such a
// group is answered NOT_COORDINATOR, the kept group is untouched, and
// Forget then drops a single group.
func TestRelinquish_HandsGroupsOver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		kept := stable(t, c, "kept", 9, 1)
		_, blocked := firstJoin(t, c, 9, "moved") // waits out the initial delay
		if s := c.Stats(); s.Groups != 2 || s.Members != 2 {
			t.Fatalf("before: %d groups, %d members; want 2, 2", s.Groups, s.Members)
		}

		if n := c.Relinquish(func(id string) bool { return id == "kept" }); n != 1 {
			t.Fatalf("Relinquish forgot %d groups, want 1", n)
		}
		if r := <-blocked; r.ErrorCode != kerr.NotCoordinator.Code {
			t.Errorf("blocked join of a group handed over: %s, want NOT_COORDINATOR", kerr.ErrorForCode(r.ErrorCode))
		}
		if d := describe(c, "moved"); d.State != "Dead" || len(d.Members) != 0 {
			t.Errorf("handed-over group described as %s with %d members, want Dead and none", d.State, len(d.Members))
		}
		if s := c.Stats(); s.Groups != 1 || s.Members != 1 || s.HeldBytes <= 0 {
			t.Errorf("after: %d groups, %d members, %d bytes held; want 1, 1, > 0", s.Groups, s.Members, s.HeldBytes)
		}
		if code := hb(c, 4, "kept", kept[0].MemberID, kept[0].Generation, nil); code != 0 {
			t.Errorf("heartbeat of the kept group: %s", kerr.ErrorForCode(code))
		}

		if !c.Forget("kept") {
			t.Fatal("Forget of a held group reported false")
		}
		if c.Forget("kept") || c.Forget("never") {
			t.Error("Forget of a group not held reported true")
		}
		if s := c.Stats(); s.Groups != 0 || s.Members != 0 || s.HeldBytes != 0 {
			t.Errorf("after Forget: %d groups, %d members, %d bytes held; want none", s.Groups, s.Members, s.HeldBytes)
		}
		if code := hb(c, 4, "kept", kept[0].MemberID, kept[0].Generation, nil); code == 0 {
			t.Error("heartbeat of a forgotten group succeeded")
		}
	})
}
