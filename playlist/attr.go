package playlist

import (
	"bytes"
	"fmt"
)

// attr is one NAME=value pair of an attribute list. Offsets index the list the
// scanner was given, so a caller can replace the value bytes in place.
type attr struct {
	name   []byte
	value  []byte // without the quotes of a quoted-string
	start  int    // offset of value in the list
	end    int    // offset just past value
	quoted bool
}

// attrScanner walks an attribute list (RFC 8216 section 4.2) without
// allocating. Quoted strings may hold commas and '='; they end at the next
// '"' because the format has no escapes.
//
// It is lenient where the meaning is still unambiguous, because real encoders
// get these wrong and refusing them would break playback for nothing:
// spaces and tabs around names, '=' and commas; empty items ("A=1,,B=2") and a
// trailing comma; names outside [A-Z0-9-] (they never match the upper-case
// names this package looks for). It reports an error where a boundary is
// ambiguous (a missing '=', an unterminated quote, a quote inside an unquoted
// value, bytes after a closing quote): there a player may see a URI where the
// scanner sees none, and guessing would let an origin URI through unrewritten.
type attrScanner struct {
	list []byte
	pos  int
	attr attr
	err  error
}

func newAttrScanner(list []byte) attrScanner {
	return attrScanner{list: list}
}

// next advances to the next attribute, reporting false at the end of the list
// or on a malformed list (then err is set).
func (s *attrScanner) next() bool {
	if s.err != nil {
		return false
	}
	l := s.list
	for {
		s.skipSpace()
		if s.pos == len(l) {
			return false
		}
		if l[s.pos] != ',' {
			break
		}
		s.pos++ // an empty item
	}

	nameStart := s.pos
	for s.pos < len(l) && !isNameEnd(l[s.pos]) {
		s.pos++
	}
	if s.pos == nameStart {
		return s.fail("attribute name expected at offset %d", nameStart)
	}
	name := l[nameStart:s.pos]
	s.skipSpace()
	if s.pos == len(l) || l[s.pos] != '=' {
		return s.fail("attribute %q has no '='", clip(name))
	}
	s.pos++
	s.skipSpace()

	a := attr{name: name}
	if s.pos < len(l) && l[s.pos] == '"' {
		i := bytes.IndexByte(l[s.pos+1:], '"')
		if i < 0 {
			return s.fail("attribute %q has an unterminated quoted string", clip(name))
		}
		a.start, a.end, a.quoted = s.pos+1, s.pos+1+i, true
		s.pos = a.end + 1
	} else {
		a.start = s.pos
		for s.pos < len(l) && l[s.pos] != ',' {
			if l[s.pos] == '"' {
				return s.fail("attribute %q has a quote inside an unquoted value", clip(name))
			}
			s.pos++
		}
		a.end = s.pos
		for a.end > a.start && isSpace(l[a.end-1]) {
			a.end--
		}
	}
	a.value = l[a.start:a.end]

	s.skipSpace()
	if s.pos < len(l) {
		if l[s.pos] != ',' {
			return s.fail("attribute %q is followed by %q instead of ','", clip(name), l[s.pos])
		}
		s.pos++
	}
	s.attr = a
	return true
}

func (s *attrScanner) skipSpace() {
	for s.pos < len(s.list) && isSpace(s.list[s.pos]) {
		s.pos++
	}
}

func (s *attrScanner) fail(format string, args ...any) bool {
	s.err = fmt.Errorf(format, args...)
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isNameEnd(c byte) bool { return c == '=' || c == ',' || c == '"' || isSpace(c) }

// clip shortens a name for an error message: the bytes come from the origin
// and a malformed list can make a "name" as long as the line.
func clip(b []byte) []byte {
	const n = 40
	if len(b) > n {
		return b[:n]
	}
	return b
}
