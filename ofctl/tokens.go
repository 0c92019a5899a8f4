package ofctl

import "strings"

// This file splits flow text into key[=value] pairs the way ovs-ofctl(8)
// does: pairs are separated by commas or white space; a key ends at ':', '='
// or '('; after ':' or '=' the value runs to the next comma or white space
// outside parentheses, after '(' it runs to the matching ')'. Nothing here
// allocates: keys and values are substrings of the input.

// pairs iterates over the key-value pairs of a string.
type pairs struct {
	s string
}

// isSep reports whether c separates pairs.
func isSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// next returns the next pair. paren is true when the value was written in
// parentheses, as in "resubmit(,3)". ok is false at the end of the input.
func (p *pairs) next() (key, value string, paren, ok bool) {
	s := p.s
	i := 0
	for i < len(s) && isSep(s[i]) {
		i++
	}
	s = s[i:]
	if s == "" {
		p.s = ""
		return "", "", false, false
	}
	k := 0
	for k < len(s) && !isSep(s[k]) && s[k] != ':' && s[k] != '=' && s[k] != '(' {
		k++
	}
	key = s[:k]
	if k == len(s) || isSep(s[k]) {
		p.s = s[k:]
		return key, "", false, true
	}
	delim := s[k]
	s = s[k+1:]
	if delim == '(' {
		n := valueLen(s, true)
		value = s[:n]
		if n < len(s) {
			n++ // the ')'
		}
		p.s = s[n:]
		return key, value, true, true
	}
	n := valueLen(s, false)
	p.s = s[n:]
	return key, s[:n], false, true
}

// valueLen returns the length of the value at the start of s: up to a
// separator (or, inside parentheses, up to the closing ')'), skipping over
// nested parenthesized groups.
func valueLen(s string, inParen bool) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if inParen && c == ')' {
			return n
		}
		if !inParen && isSep(c) {
			return n
		}
		if c == '(' {
			level := 0
			for n < len(s) {
				switch s[n] {
				case '(':
					level++
				case ')':
					level--
				}
				n++
				if level == 0 {
					break
				}
			}
			continue
		}
		n++
	}
	return n
}

// splitActions splits flow text into its match part and its actions, as
// ovs-ofctl does: the first "action" starts the actions, whose text follows
// the next '='. found is false when there is no "action" keyword.
func splitActions(s string) (match, actions string, found bool, err error) {
	i := strings.Index(s, "action")
	if i < 0 {
		return s, "", false, nil
	}
	j := strings.IndexByte(s[i:], '=')
	if j < 0 {
		return "", "", false, errorf("%q: expected \"actions=\"", s[i:])
	}
	return s[:i], s[i+j+1:], true, nil
}
