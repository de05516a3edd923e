package main

import (
	"fmt"
	"net"
	"strconv"

	"tributary/cluster"
)

// The names of the two mappings that make kafka_mirror_topic a two-way
// mirror of the MQTT namespace.
const (
	mirrorToKafka = "mirror-mqtt-to-kafka"
	mirrorToMQTT  = "mirror-kafka-to-mqtt"
)

// mirrorRetentionBytes caps each partition of the mirror topic, so a fleet
// left running cannot fill the disk: 1 GiB, next to the default seven
// days.
const mirrorRetentionBytes = 1 << 30

// mirrorMappings returns the mappings of the mirror topic: every MQTT
// publish to it (key = MQTT topic), and every record produced to it to the
// MQTT topic in its key, at QoS 1.
func (c Config) mirrorMappings() []cluster.MappingSpec {
	if c.KafkaMirrorTopic == "" {
		return nil
	}
	return []cluster.MappingSpec{
		{Name: mirrorToKafka, MQTTToKafka: &cluster.MQTTToKafkaSpec{
			Filters: []string{"#"}, KafkaTopic: c.KafkaMirrorTopic,
			Partitions: int32(c.KafkaMirrorPartitions), RetentionBytes: mirrorRetentionBytes,
		}},
		{Name: mirrorToMQTT, KafkaToMQTT: &cluster.KafkaToMQTTSpec{
			KafkaTopic: c.KafkaMirrorTopic, Partitions: int32(c.KafkaMirrorPartitions), MQTTTopic: "{key}", QoS: 1,
		}},
	}
}

// validateMappings checks what can be checked without the store: names
// present, unique, not the mirror's, and one direction each.
func (c Config) validateMappings() []error {
	var errs []error
	seen := map[string]bool{mirrorToKafka: true, mirrorToMQTT: true}
	for i, m := range c.Mappings {
		where := fmt.Sprintf("mappings[%d]", i)
		switch {
		case m.Name == "":
			errs = append(errs, fmt.Errorf("%s: name is empty", where))
		case seen[m.Name]:
			errs = append(errs, fmt.Errorf("%s: name %q is used twice or is reserved for the mirror", where, m.Name))
		case (m.MQTTToKafka == nil) == (m.KafkaToMQTT == nil):
			errs = append(errs, fmt.Errorf("%s (%s): set exactly one of mqtt_to_kafka and kafka_to_mqtt", where, m.Name))
		}
		seen[m.Name] = true
	}
	return errs
}

// checkAdvertise returns what is wrong with an advertised address
// (empty means the listen address; o names the option to set), or "".
func checkAdvertise(advertise, listen string, o option) string {
	addr := advertise
	if addr == "" {
		addr = listen
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Sprintf("%q has an invalid port %q (want 1-65535)", addr, port)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Sprintf("%q is not an address others can connect to: set %s", addr, o.name())
	}
	return ""
}

// kafkaAdvertised splits the address Metadata advertises.
func (c Config) kafkaAdvertised() (string, int32) {
	addr := c.AdvertiseKafka
	if addr == "" {
		addr = c.KafkaAddr
	}
	host, port, _ := net.SplitHostPort(addr) // Validate checked it
	n, _ := strconv.ParseUint(port, 10, 16)
	return host, int32(n)
}
