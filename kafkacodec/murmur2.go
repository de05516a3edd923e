package kafkacodec

// Murmur2 is Kafka's murmur2 hash (the Java client's Utils.murmur2): seed
// 0x9747b28c, m 0x5bd1e995, r 24, on 32-bit words read little-endian, the
// tail mixed in as Java's switch fall-through does. Java's signed int
// arithmetic wraps exactly like uint32, so the bits match.
func Murmur2(b []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r // Java's >>> (unsigned shift)
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// PartitionForKey is the partition the Java and kgo producers choose for a
// non-null key: (murmur2(key) & 0x7fffffff) % partitions. It returns -1
// (no partition) when partitions < 1.
func PartitionForKey(key []byte, partitions int32) int32 {
	if partitions < 1 {
		return -1
	}
	return (Murmur2(key) & 0x7fffffff) % partitions
}
