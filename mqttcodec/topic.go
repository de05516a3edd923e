package mqttcodec

// Topic names and filters [MQTT-4.7]. Every function here is pure, accepts a
// string or a byte slice, and allocates nothing.

// BytesOrString is the type set the topic and string functions accept, so a
// broker can pass a decoded []byte view or a configured string without a copy.
type BytesOrString interface{ ~string | ~[]byte }

// SharePrefix starts every shared subscription's topic filter [MQTT-4.8.2].
const SharePrefix = "$share/"

// ValidateTopicName checks a topic name as a PUBLISH (or a will) carries it: at
// least one byte [MQTT-4.7.3-1], no wildcard [MQTT-4.7.0-1], at most
// MaxStringBytes bytes [MQTT-4.7.3-3], and a valid UTF-8 Encoded String
// [MQTT-4.7.3-2]. Failures are *ReasonError of code MalformedPacket, citing the
// 5.0 statements; the decoders cite the clause of the connection's version.
func ValidateTopicName[T BytesOrString](name T) error { return validateTopicName(name, V5) }

func validateTopicName[T BytesOrString](name T, v Version) error {
	switch {
	case len(name) == 0:
		return errTopicEmpty.of(v)
	case len(name) > MaxStringBytes:
		return errTopicTooLong.of(v)
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '+', '#':
			return errTopicWildcard.of(v)
		case 0:
			return errUTF8Null.of(v)
		}
	}
	return validateUTF8(name, v)
}

// isTopicName reports whether b is a valid topic name; b has already passed
// UTF-8 validation.
func isTopicName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c == '+' || c == '#' {
			return false
		}
	}
	return true
}

// ValidateTopicFilter checks a topic filter as SUBSCRIBE and UNSUBSCRIBE carry
// it: at least one byte [MQTT-4.7.3-1], '#' only alone in the last level
// [MQTT-4.7.1-1], '+' only alone in its level [MQTT-4.7.1-2], at most
// MaxStringBytes bytes, valid UTF-8. A shared subscription is checked as the
// filter it is; ParseShared checks its share name too.
func ValidateTopicFilter[T BytesOrString](filter T) error { return validateTopicFilter(filter, V5) }

func validateTopicFilter[T BytesOrString](filter T, v Version) error {
	switch {
	case len(filter) == 0:
		return errFilterEmpty.of(v)
	case len(filter) > MaxStringBytes:
		return errTopicTooLong.of(v)
	}
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case '#':
			if i != len(filter)-1 || (i > 0 && filter[i-1] != '/') {
				return errFilterMultiLevel.of(v)
			}
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i < len(filter)-1 && filter[i+1] != '/') {
				return errFilterSingleLevel.of(v)
			}
		case 0:
			return errUTF8Null.of(v)
		}
	}
	return validateUTF8(filter, v)
}

// HasWildcard reports whether a topic filter contains '+' or '#'.
func HasWildcard[T BytesOrString](filter T) bool {
	for i := 0; i < len(filter); i++ {
		if filter[i] == '+' || filter[i] == '#' {
			return true
		}
	}
	return false
}

// ParseShared splits a shared subscription "$share/{ShareName}/{filter}"
// [MQTT-4.8.2]. For a filter that does not start with "$share/" it returns
// shared=false and the filter unchanged. A shared one must have a ShareName of
// at least one byte [MQTT-4.8.2-1] without '/', '+' or '#', followed by '/' and
// a valid topic filter [MQTT-4.8.2-2]; failures are MalformedPacket.
func ParseShared[T BytesOrString](filter T) (shareName, topicFilter T, shared bool, err error) {
	if !hasSharePrefix(filter) {
		return shareName, filter, false, nil
	}
	rest := filter[len(SharePrefix):]
	end := -1
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '/' {
			end = i
			break
		}
		if c == '+' || c == '#' {
			return shareName, topicFilter, true, errShareNameChars
		}
	}
	switch {
	case end == 0 || len(rest) == 0:
		return shareName, topicFilter, true, errShareNameEmpty
	case end < 0 || end == len(rest)-1:
		return shareName, topicFilter, true, errShareNoFilter
	}
	shareName, topicFilter = rest[:end], rest[end+1:]
	if err := validateTopicFilter(topicFilter, V5); err != nil {
		return shareName, topicFilter, true, err
	}
	return shareName, topicFilter, true, nil
}

func hasSharePrefix[T BytesOrString](filter T) bool {
	if len(filter) < len(SharePrefix) {
		return false
	}
	for i := 0; i < len(SharePrefix); i++ {
		if filter[i] != SharePrefix[i] {
			return false
		}
	}
	return true
}

// MatchTopic reports whether a topic name matches a topic filter [MQTT-4.7]:
// '+' matches exactly one level (possibly empty), '#' matches its parent level
// and every level below it (so "sport/#" matches "sport"), and a filter that
// starts with a wildcard never matches a name that starts with '$'
// [MQTT-4.7.2-1]. Both arguments are assumed valid (a shared subscription's
// filter is matched after ParseShared); for invalid input the result is
// unspecified but MatchTopic never panics. Matching is byte by byte, with no
// normalisation [MQTT-4.7.3-4].
func MatchTopic[F, N BytesOrString](filter F, name N) bool {
	if len(name) > 0 && name[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	fi, ni := 0, 0
	for {
		if fi < len(filter) && filter[fi] == '#' {
			return true
		}
		fe := levelEnd(filter, fi)
		ne := levelEnd(name, ni)
		if !(fe-fi == 1 && filter[fi] == '+') && !sameLevel(filter[fi:fe], name[ni:ne]) {
			return false
		}
		fDone, nDone := fe == len(filter), ne == len(name)
		switch {
		case fDone && nDone:
			return true
		case nDone:
			// The name ended; only a trailing "/#" may still match it.
			return len(filter)-fe == 2 && filter[fe+1] == '#'
		case fDone:
			return false
		}
		fi, ni = fe+1, ne+1
	}
}

// levelEnd returns the index of the '/' that ends the level starting at i, or
// len(s).
func levelEnd[T BytesOrString](s T, i int) int {
	for ; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return len(s)
}

func sameLevel[F, N BytesOrString](f F, n N) bool {
	if len(f) != len(n) {
		return false
	}
	for i := 0; i < len(f); i++ {
		if f[i] != n[i] {
			return false
		}
	}
	return true
}
