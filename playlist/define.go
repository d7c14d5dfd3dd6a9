package playlist

import "bytes"

// define records the variable an EXT-X-DEFINE line declares. The line itself
// is copied unchanged; players still see it and still substitute, but they
// find no references left in the URIs this package rewrote.
//
//   - NAME + VALUE: the value, taken literally.
//   - QUERYPARAM: the value of that parameter in Options.Query, if present.
//     Absent, the variable stays undefined (the playlist is in error and a
//     player will refuse it; this package just leaves such URIs alone).
//   - IMPORT: its value is in the parent multivariant playlist, which this
//     call has not seen, so the variable stays undefined.
func (rw *rewriter) define(list []byte) error {
	var name, value, param []byte
	hasValue := false
	s := newAttrScanner(list)
	for s.next() {
		switch string(s.attr.name) {
		case "NAME":
			name = s.attr.value
		case "VALUE":
			value, hasValue = s.attr.value, true
		case "QUERYPARAM":
			param = s.attr.value
		}
	}
	if s.err != nil {
		// The definitions decide what later URIs resolve to.
		return rw.malformed(s.err)
	}
	switch {
	case name != nil && hasValue:
		rw.setVar(string(name), string(value))
	case param != nil:
		p := string(param)
		if rw.opts.Query.Has(p) {
			rw.setVar(p, rw.opts.Query.Get(p))
		}
	}
	return nil
}

func (rw *rewriter) setVar(name, value string) {
	if rw.vars == nil {
		rw.vars = make(map[string]string)
	}
	rw.vars[name] = value
}

// substitute replaces the variable references ({$name}) in raw. It reports
// false if a reference names an undefined variable. "{$" not followed by a
// valid name and "}" is not a reference and stays literal, as in hls.js.
// The result may alias raw or rw.subst; it is valid until the next call.
func (rw *rewriter) substitute(raw []byte) ([]byte, bool) {
	i := bytes.Index(raw, []byte("{$"))
	if i < 0 {
		return raw, true
	}
	out := rw.subst[:0]
	for i >= 0 {
		out = append(out, raw[:i]...)
		j := i + 2
		for j < len(raw) && isVarNameByte(raw[j]) {
			j++
		}
		if j == i+2 || j == len(raw) || raw[j] != '}' {
			out = append(out, "{$"...)
			raw = raw[i+2:]
		} else {
			v, ok := rw.vars[string(raw[i+2:j])]
			if !ok {
				rw.subst = out
				return nil, false
			}
			out = append(out, v...)
			raw = raw[j+1:]
		}
		i = bytes.Index(raw, []byte("{$"))
	}
	out = append(out, raw...)
	rw.subst = out
	return out, true
}

// isVarNameByte reports whether c may appear in a variable name: [a-zA-Z0-9_-].
func isVarNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
