// Package groups is the Kafka consumer-group coordinator of one node: the
// classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// DescribeGroups, ListGroups) with its state in memory. Committed offsets
// are durable elsewhere (raftstore, through the log); membership and
// rebalances are not, as in DESIGN.md ("Not through the log").
//
// # What it owns
//
// The group state machine of the Java broker (GroupCoordinator and
// GroupMetadata, and their successors ClassicGroup and
// GroupMetadataManager): Empty → PreparingRebalance → CompletingRebalance →
// Stable, back to PreparingRebalance when membership or metadata changes,
// and Dead for a group this coordinator has dropped. That includes the
// member-id handshake of KIP-394 (MEMBER_ID_REQUIRED), static membership
// (KIP-345) with the assignment skip of KIP-814, the initial rebalance
// delay (group.initial.rebalance.delay.ms), session and rebalance timeouts,
// the pending-sync timeout, protocol selection by vote, and the
// generation/member checks of OffsetCommit (CheckCommit). It never stores
// offsets and knows nothing of sockets, raft or other nodes: the caller
// sends each group's requests to the coordinator the rendezvous hash picks,
// answers NOT_COORDINATOR itself for groups it does not coordinate, and
// calls Relinquish (or Forget) when groups move to another node; their
// blocked calls are then answered NOT_COORDINATOR and members rejoin at
// the new coordinator.
//
// # Concurrency
//
// One mutex per Coordinator guards every group. Each operation is short and
// bounded — at most a pass over one group's members (MaxGroupSize), or over
// the groups for ListGroups and Stats — and nothing blocks while holding
// it, so one lock costs less than the lock-order rules a lock per group
// would need (kfake likewise runs every group on one loop). JoinGroup and
// SyncGroup calls that must wait do so after unlocking, on a channel of
// capacity one that the state machine fills exactly once; a call whose ctx
// ends first returns REBALANCE_IN_PROGRESS and leaves its member in the
// group, as a Java broker keeps a member whose connection dropped
// mid-rebalance. Timers are time.AfterFunc (fake time under testing/synctest);
// each callback takes the mutex and checks, by a token or by identity, that
// it still belongs to the current state before it acts. Deadlines are taken
// from Config.Now. There is no goroutine besides the blocked callers and
// the timers' callbacks. Close stops every timer and answers every blocked
// call with COORDINATOR_NOT_AVAILABLE; later calls get the same code.
//
// # Limits
//
//   - MaxGroupSize members (including members that were handed an id with
//     MEMBER_ID_REQUIRED and have not joined yet): GROUP_MAX_SIZE_REACHED.
//   - MaxMemberMetadataBytes per member's protocol names and metadata, and
//     per member assignment; at most 64 protocols per member; ids and the
//     protocol type at most 1 KiB: INVALID_REQUEST (INVALID_GROUP_ID for the
//     group id). Client id and host are truncated to 255 bytes.
//   - MaxGroups groups in memory. At the bound an Empty group (one that
//     holds no member) is forgotten to make room; if there is none, a join
//     that would create a group gets COORDINATOR_NOT_AVAILABLE, which
//     clients retry.
//   - MaxHeldBytes for everything held for all members (a fixed overhead per
//     member, its ids, metadata and assignment): COORDINATOR_NOT_AVAILABLE.
//
// Stats reports the sizes and counts every rejection, for metrics.
//
// # Buffer ownership
//
// Requests may alias a pooled frame buffer (DESIGN.md, "Zero-copy wire
// path"). Everything kept past a call — ids, protocol names and metadata,
// assignments — is copied once, on entry. Responses may share the
// coordinator's copies of metadata and assignments; the coordinator never
// writes into a slice it has handed out, it replaces it.
package groups
