package mqtt

import (
	"fmt"
	"testing"

	"tributary/mqttcodec"
)

// BenchmarkFanOutQoS0 publishes QoS 0 messages from one client to
// several subscribers of the same topic, end to end over loopback TCP,
// and reports delivered messages per second (nats's BenchmarkCoreFanOut
// shape).
func BenchmarkFanOutQoS0(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, subs := range []int{1, 10} {
			b.Run(fmt.Sprintf("payload=%d/subscribers=%d", size, subs), func(b *testing.B) {
				benchFanOut(b, size, subs)
			})
		}
	}
}

func benchFanOut(b *testing.B, size, subs int) {
	st := newStack(b, stackOptions{config: func(c *Config) { c.MaxOutboundBytes = 64 << 20 }})
	done := make(chan int, subs)
	for i := range subs {
		r, _ := st.rawConnect(fmt.Sprint("sub", i), mqttcodec.V311, nil)
		subscribeRaw(r, 1, "fan", mqttcodec.QoS0, nil)
		go countPublishes(r, b.N, done)
	}
	pub, _ := st.rawConnect("pub", mqttcodec.V311, nil)
	frame, err := rawPublish("fan", mqttcodec.QoS0, 0, string(make([]byte, size))).Append(nil, mqttcodec.V311)
	if err != nil {
		b.Fatal(err)
	}
	const perWrite = 64
	burst := make([]byte, 0, perWrite*len(frame))
	for range perWrite {
		burst = append(burst, frame...)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += perWrite {
		n := min(perWrite, b.N-sent)
		pub.write(burst[:n*len(frame)])
	}
	received := 0
	for range subs {
		received += <-done
	}
	b.StopTimer()
	b.ReportMetric(float64(received)/b.Elapsed().Seconds(), "deliveries/s")
	if dropped := st.counter("tributary_mqtt_messages_dropped_total", "reason", dropOutboundFull); dropped > 0 {
		b.Logf("%v deliveries dropped (outbound buffer full)", dropped)
	}
}

// countPublishes reads PUBLISH frames until it has want of them, or the
// connection ends, and reports how many it got.
func countPublishes(r *rawClient, want int, done chan<- int) {
	got := 0
	for got < want {
		f, err := r.readFrame()
		if err != nil {
			break
		}
		if mqttcodec.PacketType(f[0]>>4) == mqttcodec.TypePublish {
			got++
		}
	}
	done <- got
}
