package kafkacodec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMurmur2JavaVectors(t *testing.T) {
	t.Parallel()
	// Kafka's UtilsTest.testMurmur2 (clients/src/test/java/.../UtilsTest.java),
	// as franz-go's TestMurmur2KafkaVectors copies them.
	for _, c := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		if got := Murmur2([]byte(c.in)); got != c.want {
			t.Errorf("Murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPartitionForKeyMatchesKgo(t *testing.T) {
	t.Parallel()
	part := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{{}, {0}, {0xff}, {0xff, 0xff}, {0x80, 0x81, 0x82}, []byte("sensors/room-1/temperature")}
	for i := range 2000 {
		k := make([]byte, i%37)
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	for _, n := range []int32{1, 2, 3, 7, 10, 64, 1000, 1<<31 - 1} {
		for _, k := range keys {
			want := part.Partition(&kgo.Record{Key: k}, int(n))
			if got := PartitionForKey(k, n); int(got) != want {
				t.Fatalf("PartitionForKey(%x, %d) = %d, kgo says %d", k, n, got, want)
			}
		}
	}
}

func TestPartitionForKeyNoPartitions(t *testing.T) {
	t.Parallel()
	for _, n := range []int32{0, -1} {
		if got := PartitionForKey([]byte("k"), n); got != -1 {
			t.Errorf("PartitionForKey(k, %d) = %d, want -1", n, got)
		}
	}
}

func ExamplePartitionForKey() {
	fmt.Println(PartitionForKey([]byte("21"), 10), Murmur2([]byte("21")))
	// Output: 0 -973932308
}
