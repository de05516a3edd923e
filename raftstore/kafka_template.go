package raftstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"tributary/kafkacodec"
)

// Templates of the mappings: text with placeholders in braces. A key
// template (MQTT→Kafka) knows {topic}, {client_id} and {level:N}; a topic
// template (Kafka→MQTT) knows {key} and {header:NAME}. Other text is
// literal; a '{' that opens no known placeholder is an error, so a typo
// is refused when the mapping is set rather than producing odd keys.

const (
	keyTemplateDefault   = "{topic}"
	topicTemplateDefault = "{key}"
)

type tmplKind byte

const (
	tmplLiteral tmplKind = iota
	tmplTopic
	tmplClientID
	tmplLevel
	tmplKey
	tmplHeader
)

// tmplPart is one piece of a template: literal text, or a placeholder
// (with its level number or header name).
type tmplPart struct {
	kind tmplKind
	text string // literal text, or the header name
	n    int    // the level of {level:N}
}

// template is a parsed template.
type template []tmplPart

// tmplFields says which placeholders a template may use.
type tmplFields byte

const (
	keyFields tmplFields = iota
	topicFields
)

var errTemplate = errors.New("raftstore: bad template")

// maxTemplateLevel bounds N in {level:N} (a topic has at most 32,768 levels).
const maxTemplateLevel = 32767

// parseTemplate parses s (def when empty).
func parseTemplate(s, def string, fields tmplFields) (template, error) {
	if s == "" {
		s = def
	}
	if len(s) > MaxTemplateBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errTemplate, len(s), MaxTemplateBytes)
	}
	var t template
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			return append(t, tmplPart{kind: tmplLiteral, text: s}), nil
		}
		if open > 0 {
			t = append(t, tmplPart{kind: tmplLiteral, text: s[:open]})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%w: unclosed '{' in %q", errTemplate, s)
		}
		p, err := parsePlaceholder(s[open+1:open+end], fields)
		if err != nil {
			return nil, err
		}
		t = append(t, p)
		s = s[open+end+1:]
	}
	return t, nil
}

func parsePlaceholder(name string, fields tmplFields) (tmplPart, error) {
	switch {
	case fields == keyFields && name == "topic":
		return tmplPart{kind: tmplTopic}, nil
	case fields == keyFields && name == "client_id":
		return tmplPart{kind: tmplClientID}, nil
	case fields == keyFields && strings.HasPrefix(name, "level:"):
		n, err := strconv.Atoi(name[len("level:"):])
		if err != nil || n < 0 || n > maxTemplateLevel {
			return tmplPart{}, fmt.Errorf("%w: {%s}", errTemplate, name)
		}
		return tmplPart{kind: tmplLevel, n: n}, nil
	case fields == topicFields && name == "key":
		return tmplPart{kind: tmplKey}, nil
	case fields == topicFields && strings.HasPrefix(name, "header:") && len(name) > len("header:"):
		return tmplPart{kind: tmplHeader, text: name[len("header:"):]}, nil
	}
	return tmplPart{}, fmt.Errorf("%w: unknown placeholder {%s}", errTemplate, name)
}

// renderKey builds a record key from a key template.
func (t template) renderKey(topic, clientID string) []byte {
	if len(t) == 1 && t[0].kind == tmplTopic {
		return []byte(topic) // the default, without the general loop
	}
	var out []byte
	for _, p := range t {
		switch p.kind {
		case tmplLiteral:
			out = append(out, p.text...)
		case tmplTopic:
			out = append(out, topic...)
		case tmplClientID:
			out = append(out, clientID...)
		case tmplLevel:
			out = append(out, topicLevel(topic, p.n)...)
		}
	}
	if out == nil {
		out = []byte{} // a key, even empty, is never null
	}
	return out
}

// topicLevel returns the nth level of topic (0-based), "" past the last.
func topicLevel(topic string, n int) string {
	for i := 0; i < n; i++ {
		j := strings.IndexByte(topic, '/')
		if j < 0 {
			return ""
		}
		topic = topic[j+1:]
	}
	if j := strings.IndexByte(topic, '/'); j >= 0 {
		return topic[:j]
	}
	return topic
}

// renderTopic builds an MQTT topic name from a topic template and a
// record; a record without the key or a header the template names has no
// topic (ErrInvalidRecord).
func (t template) renderTopic(r *kafkacodec.Record) (string, error) {
	var b strings.Builder
	for _, p := range t {
		switch p.kind {
		case tmplLiteral:
			b.WriteString(p.text)
		case tmplKey:
			if r.Key == nil {
				return "", fmt.Errorf("%w: record at offset delta %d has no key", ErrInvalidRecord, r.OffsetDelta)
			}
			b.Write(r.Key)
		case tmplHeader:
			v, ok := headerValue(r.Headers, p.text)
			if !ok {
				return "", fmt.Errorf("%w: record at offset delta %d has no header %q", ErrInvalidRecord, r.OffsetDelta, p.text)
			}
			b.Write(v)
		}
	}
	return b.String(), nil
}

// headerValue returns the value of the first non-null header named name.
func headerValue(hs []kafkacodec.RecordHeader, name string) ([]byte, bool) {
	for _, h := range hs {
		if h.Key == name && h.Value != nil {
			return h.Value, true
		}
	}
	return nil, false
}
