package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds the tributary binary once for the package's tests (with
// -race when the tests run with it, so the nodes are checked too).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tributary-chaos-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "tributary")
		args := []string{"build", "-o", builtBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/tributary")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// startCluster starts n nodes and HAProxy; the cluster is killed when the
// test ends, and the nodes' logs are printed if it failed.
func startCluster(t *testing.T, n int, args ...string) *Cluster {
	t.Helper()
	if _, err := HAProxyBinary(); err != nil {
		t.Fatal(err) // .ci/install-test-deps installs it
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{
		Bin:   binary(t),
		Dir:   dir,
		Nodes: n,
		Args:  append([]string{"--node-down-after", "2s", "--log-level", "info"}, args...),
		Logf:  t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			if keep := os.Getenv("TRIBUTARY_CHAOS_KEEP"); keep != "" {
				// The whole logs (goroutine dumps included) outlive the test.
				dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
				if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
					t.Logf("keep logs: %v", err)
				}
			}
			for _, n := range c.Nodes() {
				t.Logf("---- log of %s ----\n%s", n.ID, tail(n.Log(), 6000))
			}
			if b, err := os.ReadFile(filepath.Join(dir, "haproxy.log")); err == nil {
				t.Logf("---- haproxy log ----\n%s", tail(string(b), 3000))
			}
		}
	})
	return c
}

// recorder keeps every payload a subscriber received, how often, when
// each arrived, and on which of the subscriber's connections.
type recorder struct {
	mu    sync.Mutex
	seen  map[string]int
	times []time.Time
	conns []int       // per delivery: the connections up when it arrived
	ups   []time.Time // when each connection came up
}

func newRecorder() *recorder { return &recorder{seen: make(map[string]int)} }

func (r *recorder) add(payload string) {
	r.mu.Lock()
	r.seen[payload]++
	r.times = append(r.times, time.Now())
	r.conns = append(r.conns, len(r.ups))
	r.mu.Unlock()
}

// connectionUp records that the subscriber's client (re)connected.
func (r *recorder) connectionUp() {
	r.mu.Lock()
	r.ups = append(r.ups, time.Now())
	r.mu.Unlock()
}

func (r *recorder) count(payload string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[payload]
}

// firstAfter returns when the first message after t arrived.
func (r *recorder) firstAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, at := range r.times {
		if at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// firstOnNewConnection returns when the subscriber's first connection made
// after t came up, and when the first message arrived once it was up:
// messages still read from the old connection's buffers after t do not
// count as delivery resumed.
func (r *recorder) firstOnNewConnection(t time.Time) (up, delivered time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	conn := -1
	for i, at := range r.ups {
		if at.After(t) {
			conn, up = i+1, at
			break
		}
	}
	if conn < 0 {
		return time.Time{}, time.Time{}, false
	}
	for i, at := range r.times {
		if r.conns[i] >= conn {
			return up, at, true
		}
	}
	return up, time.Time{}, false
}

// waitAll waits until every payload in want has arrived at least once.
func (r *recorder) waitAll(t *testing.T, who string, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing, first := 0, ""
		for _, p := range want {
			if r.count(p) == 0 {
				if missing == 0 {
					first = p
				}
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d acknowledged messages never arrived (first: %s)", who, missing, len(want), first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// device is an MQTT 5 client (autopaho) with a persistent session that
// reconnects by itself, through whatever address it was given (HAProxy).
// It subscribes once, on its first connection: the session keeps the
// subscription across nodes.
func device(ctx context.Context, t *testing.T, addr, id string, filters []paho.SubscribeOptions, rec *recorder, will *paho.WillMessage) *autopaho.ConnectionManager {
	t.Helper()
	u, err := url.Parse("mqtt://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	subscribed := make(chan error, 1)
	var once sync.Once
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     5,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         3600,
		ConnectTimeout:                5 * time.Second,
		ReconnectBackoff:              func(int) time.Duration { return 100 * time.Millisecond },
		WillMessage:                   will,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			if rec != nil {
				rec.connectionUp()
			}
			once.Do(func() {
				if len(filters) == 0 {
					subscribed <- nil
					return
				}
				go func() {
					_, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: filters})
					subscribed <- err
				}()
			})
		},
		ClientConfig: paho.ClientConfig{
			ClientID: id,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					if rec != nil {
						rec.add(string(pr.Packet.Payload))
					}
					return true, nil
				},
			},
		},
	}
	if will != nil {
		cfg.WillProperties = &paho.WillProperties{}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		t.Fatalf("device %s: %v", id, err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("device %s subscribe: %v", id, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("device %s did not connect and subscribe", id)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = cm.Disconnect(dctx) // the node may be gone
	})
	return cm
}

// publisher is an at-least-once MQTT 5 publisher: each message is
// published until it is acknowledged, reconnecting (through addr) after
// a failure. It records the payloads acknowledged, when, and when the
// attempt that got the acknowledgement was sent.
type publisher struct {
	addr, id  string
	mu        sync.Mutex
	acked     []string
	ackTimes  []time.Time
	sentTimes []time.Time
	retried   map[string]bool // payloads sent more than once
	cli       *paho.Client
}

func (p *publisher) connect(ctx context.Context) error {
	conn, err := dialTCP(ctx, p.addr)
	if err != nil {
		return err
	}
	c := paho.NewClient(paho.ClientConfig{ClientID: p.id, Conn: conn})
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Connect(cctx, &paho.Connect{ClientID: p.id, KeepAlive: 10, CleanStart: true}); err != nil {
		conn.Close()
		return err
	}
	p.cli = c
	return nil
}

// publish sends payload at qos to topic until it is acknowledged or ctx
// ends (then it returns false).
func (p *publisher) publish(ctx context.Context, topic string, qos byte, payload string) bool {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			p.mu.Lock()
			if p.retried == nil {
				p.retried = make(map[string]bool)
			}
			p.retried[payload] = true
			p.mu.Unlock()
		}
		if p.cli == nil {
			if err := p.connect(ctx); err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sent := time.Now()
		_, err := p.cli.Publish(pctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
		cancel()
		if err == nil {
			p.mu.Lock()
			p.acked = append(p.acked, payload)
			p.ackTimes = append(p.ackTimes, time.Now())
			p.sentTimes = append(p.sentTimes, sent)
			p.mu.Unlock()
			return true
		}
		_ = p.cli.Disconnect(&paho.Disconnect{}) // the connection is broken anyway
		p.cli = nil
	}
	return false
}

// ackedPayloads returns what was acknowledged so far.
func (p *publisher) ackedPayloads() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.acked...)
}

// sentOnce reports whether payload was published in one attempt (a
// retried QoS 2 message may rightly arrive twice: the new connection's
// packet id is a new message).
func (p *publisher) sentOnce(payload string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.retried[payload]
}

// firstAckOfSendAfter returns when the first publish sent after t was
// acknowledged: acknowledgements of what was committed before t, still
// on their way, do not show that writes resumed.
func (p *publisher) firstAckOfSendAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, at := range p.ackTimes {
		if p.sentTimes[i].After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

func (p *publisher) close() {
	if p.cli != nil {
		_ = p.cli.Disconnect(&paho.Disconnect{}) // best effort at the end of a test
	}
}

// metric reads one unlabelled metric from a node's /metrics.
func metric(n *Node, name string) (float64, error) {
	resp, err := http.Get("http://" + n.Ports.HTTP + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s in /metrics", n.ID, name)
}

// localSessions reads a node's tributary_mqtt_sessions_local gauge.
func localSessions(n *Node) (int, error) {
	v, err := metric(n, "tributary_mqtt_sessions_local")
	return int(v), err
}

// holder returns the node holding exactly want local sessions, waiting for
// the gauges to settle.
func holder(t *testing.T, c *Cluster, want int) *Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []*Node
		for _, n := range c.Nodes() {
			if !n.Running() {
				continue
			}
			if k, err := localSessions(n); err == nil && k == want {
				found = append(found, n)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single node holds %d sessions", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
