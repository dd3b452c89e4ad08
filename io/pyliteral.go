package volio

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The header of a .npy file is a Python dictionary literal, which NumPy
// reads with ast.literal_eval. parsePyLiteral reads the same subset of
// Python that such headers use: dicts, tuples, lists, strings (any quotes,
// prefixes u, r and b, adjacent strings joined), integers (decimal, 0x, 0o,
// 0b, underscores, a sign, Python 2's 2L), floats, True, False, None and
// comments.

// pyTuple and pyList are Python tuples and lists; pyDict keeps its keys in
// order, a repeated key keeping its last value as in Python.
type (
	pyTuple []any
	pyList  []any
	pyDict  struct {
		keys []any
		vals []any
	}
	// pyInt is an integer; big is set when it does not fit in an int64.
	pyInt struct {
		v    int64
		big  bool
		text string
	}
	pyFloat string // a float or complex literal, kept as written
	pyBytes string
	pyNone  struct{}
)

// get returns the value of the string key k.
func (d *pyDict) get(k string) (any, bool) {
	for i := len(d.keys) - 1; i >= 0; i-- {
		if s, ok := d.keys[i].(string); ok && s == k {
			return d.vals[i], true
		}
	}
	return nil, false
}

// maxPyDepth bounds the nesting of containers in a header.
const maxPyDepth = 64

type pyParser struct {
	s     string
	i     int
	depth int
	// longs allows Python 2's long suffix (8L), as NumPy does for format
	// versions 1 and 2.
	longs bool
}

// parsePyLiteral parses s, which must hold exactly one Python literal.
func parsePyLiteral(s string, longs bool) (any, error) {
	p := &pyParser{s: s, longs: longs}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %s after the end", p.near())
	}
	return v, nil
}

func (p *pyParser) errorf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

// near quotes the text at the current position for an error message.
func (p *pyParser) near() string {
	if p.i >= len(p.s) {
		return "end of header"
	}
	r := p.s[p.i:]
	if len(r) > 12 {
		r = r[:12]
		for !utf8.ValidString(r) && len(r) > 0 {
			r = r[:len(r)-1]
		}
		r += "…"
	}
	return strconv.Quote(r)
}

// skip passes white space, comments and line continuations.
func (p *pyParser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != '\r' {
				p.i++
			}
		case c == '\\' && p.i+1 < len(p.s) && (p.s[p.i+1] == '\n' || p.s[p.i+1] == '\r'):
			p.i += 2
		default:
			return
		}
	}
}

func (p *pyParser) value() (any, error) {
	p.skip()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end of header")
	}
	c := p.s[p.i]
	switch {
	case c == '{' || c == '(' || c == '[':
		if p.depth >= maxPyDepth {
			return nil, p.errorf("nested more than %d deep", maxPyDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
		p.i++
		switch c {
		case '{':
			return p.dict()
		case '(':
			return p.tuple()
		}
		items, err := p.items(']')
		return pyList(items), err
	case c == '\'' || c == '"' || p.stringPrefix() > 0:
		return p.strings()
	case c >= '0' && c <= '9' || c == '.' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9':
		return p.number(false)
	case c == '-' || c == '+':
		p.i++
		p.skip()
		if p.i >= len(p.s) || !(p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
			return nil, p.errorf("a sign must be followed by a number")
		}
		v, err := p.number(c == '-')
		return v, err
	case isIdentStart(c):
		j := p.i
		for j < len(p.s) && isIdentPart(p.s[j]) {
			j++
		}
		word := p.s[p.i:j]
		switch word {
		case "True":
			p.i = j
			return true, nil
		case "False":
			p.i = j
			return false, nil
		case "None":
			p.i = j
			return pyNone{}, nil
		}
		return nil, p.errorf("%q is not a literal", word)
	}
	return nil, p.errorf("unexpected %s", p.near())
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// items reads comma-separated values up to the closing bracket, a trailing
// comma allowed.
func (p *pyParser) items(end byte) ([]any, error) {
	var items []any
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return items, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.skip()
		switch {
		case p.i < len(p.s) && p.s[p.i] == ',':
			p.i++
		case p.i < len(p.s) && p.s[p.i] == end:
		default:
			return nil, p.errorf("expected ',' or '%c', found %s", end, p.near())
		}
	}
}

// tuple reads what follows '(': a tuple, or a value in parentheses.
func (p *pyParser) tuple() (any, error) {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return pyTuple{}, nil
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skip()
	switch {
	case p.i < len(p.s) && p.s[p.i] == ')':
		p.i++
		return v, nil // (2) is 2
	case p.i < len(p.s) && p.s[p.i] == ',':
		p.i++
	default:
		return nil, p.errorf("expected ',' or ')', found %s", p.near())
	}
	rest, err := p.items(')')
	if err != nil {
		return nil, err
	}
	return append(pyTuple{v}, rest...), nil
}

func (p *pyParser) dict() (any, error) {
	d := &pyDict{}
	for {
		p.skip()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return d, nil
		}
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case pyList, *pyDict:
			return nil, p.errorf("a dictionary key cannot be a list or a dictionary")
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected ':' after a dictionary key, found %s", p.near())
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
		p.skip()
		switch {
		case p.i < len(p.s) && p.s[p.i] == ',':
			p.i++
		case p.i < len(p.s) && p.s[p.i] == '}':
		default:
			return nil, p.errorf("expected ',' or '}', found %s", p.near())
		}
	}
}

// stringPrefix returns the length of a string prefix (u, r, b, br, rb in
// any case) followed by a quote at the current position, or 0.
func (p *pyParser) stringPrefix() int {
	for n := 1; n <= 2 && p.i+n < len(p.s); n++ {
		if q := p.s[p.i+n]; q == '\'' || q == '"' {
			switch strings.ToLower(p.s[p.i : p.i+n]) {
			case "u", "r", "b", "br", "rb":
				return n
			}
			return 0
		}
	}
	return 0
}

// strings reads one or more adjacent string literals and joins them.
func (p *pyParser) strings() (any, error) {
	var sb strings.Builder
	kind := "" // "str" or "bytes"
	for {
		p.skip()
		if p.i >= len(p.s) {
			break
		}
		n := p.stringPrefix()
		if c := p.s[p.i]; n == 0 && c != '\'' && c != '"' {
			break
		}
		prefix := strings.ToLower(p.s[p.i : p.i+n])
		k := "str"
		if strings.Contains(prefix, "b") {
			k = "bytes"
		}
		if kind != "" && k != kind {
			return nil, p.errorf("cannot join bytes and text strings")
		}
		kind = k
		p.i += n
		s, err := p.stringBody(strings.Contains(prefix, "r"), k == "bytes")
		if err != nil {
			return nil, err
		}
		sb.WriteString(s)
	}
	if kind == "bytes" {
		return pyBytes(sb.String()), nil
	}
	return sb.String(), nil
}

// stringBody reads a quoted string at the current position.
func (p *pyParser) stringBody(raw, bytes bool) (string, error) {
	start := p.i
	q := p.s[p.i : p.i+1]
	if strings.HasPrefix(p.s[p.i:], q+q+q) {
		q = q + q + q
	}
	p.i += len(q)
	var sb strings.Builder
	for {
		if p.i >= len(p.s) {
			p.i = start
			return "", p.errorf("string is not closed")
		}
		if strings.HasPrefix(p.s[p.i:], q) {
			p.i += len(q)
			return sb.String(), nil
		}
		c := p.s[p.i]
		if (c == '\n' || c == '\r') && len(q) == 1 {
			p.i = start
			return "", p.errorf("string is not closed on its line")
		}
		if c != '\\' {
			sb.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			continue // reported as not closed
		}
		e := p.s[p.i+1]
		if raw {
			// In a raw string a backslash escapes nothing but keeps a
			// quote from ending the string.
			sb.WriteByte('\\')
			sb.WriteByte(e)
			p.i += 2
			continue
		}
		p.i += 2
		switch e {
		case '\n':
		case '\r':
			if p.i < len(p.s) && p.s[p.i] == '\n' {
				p.i++
			}
		case '\\', '\'', '"':
			sb.WriteByte(e)
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'v':
			sb.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := p.i - 1
			for p.i < len(p.s) && p.i-j < 3 && p.s[p.i] >= '0' && p.s[p.i] <= '7' {
				p.i++
			}
			n, _ := strconv.ParseUint(p.s[j:p.i], 8, 16)
			if bytes {
				sb.WriteByte(byte(n))
			} else {
				sb.WriteRune(rune(n))
			}
		case 'x', 'u', 'U':
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if bytes && e != 'x' {
				sb.WriteByte('\\')
				sb.WriteByte(e)
				continue
			}
			if p.i+digits > len(p.s) {
				return "", p.errorf("truncated \\%c escape", e)
			}
			n, err := strconv.ParseUint(p.s[p.i:p.i+digits], 16, 32)
			if err != nil || n > utf8.MaxRune {
				return "", p.errorf("bad \\%c escape", e)
			}
			p.i += digits
			if bytes {
				sb.WriteByte(byte(n))
			} else {
				sb.WriteRune(rune(n))
			}
		case 'N':
			return "", p.errorf("named escapes (\\N{…}) are not supported")
		default:
			sb.WriteByte('\\')
			sb.WriteByte(e)
		}
	}
}

var (
	pyDecimal = regexp.MustCompile(`^(?:0(?:_?0)*|[1-9](?:_?[0-9])*)$`)
	pyHex     = regexp.MustCompile(`^0[xX](?:_?[0-9a-fA-F])+$`)
	pyOctal   = regexp.MustCompile(`^0[oO](?:_?[0-7])+$`)
	pyBinary  = regexp.MustCompile(`^0[bB](?:_?[01])+$`)
	pyFloatRe = regexp.MustCompile(`^(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?[jJ]?$`)
)

// number reads an integer or float literal; neg applies a leading minus.
func (p *pyParser) number(neg bool) (any, error) {
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if isIdentPart(c) || c == '.' {
			j++
			continue
		}
		// The sign of an exponent, as in 1e-5 (not in 0x1e-5).
		if (c == '+' || c == '-') && (p.s[j-1] == 'e' || p.s[j-1] == 'E') &&
			!strings.HasPrefix(strings.ToLower(p.s[p.i:j]), "0x") {
			j++
			continue
		}
		break
	}
	text := p.s[p.i:j]
	long := false
	if p.longs && strings.HasSuffix(text, "L") {
		text, long = text[:len(text)-1], true
	}
	isInt := pyDecimal.MatchString(text) || pyHex.MatchString(text) || pyOctal.MatchString(text) || pyBinary.MatchString(text)
	// A float has a point, an exponent or is imaginary: 02 is no number.
	isFloat := pyFloatRe.MatchString(text) && strings.ContainsAny(text, ".eEjJ")
	if !isInt && (long || !isFloat) {
		return nil, p.errorf("%q is not a number", p.s[p.i:j])
	}
	p.i = j
	sign := ""
	if neg {
		sign = "-"
	}
	if !isInt {
		return pyFloat(sign + text), nil
	}
	digits := strings.ReplaceAll(text, "_", "")
	base := 10
	if len(digits) > 1 && digits[0] == '0' {
		switch digits[1] {
		case 'x', 'X':
			base, digits = 16, digits[2:]
		case 'o', 'O':
			base, digits = 8, digits[2:]
		case 'b', 'B':
			base, digits = 2, digits[2:]
		}
	}
	n, err := strconv.ParseInt(sign+digits, base, 64)
	if errors.Is(err, strconv.ErrRange) {
		return pyInt{big: true, text: sign + text}, nil
	}
	if err != nil {
		return nil, p.errorf("%q is not a number", text)
	}
	return pyInt{v: n, text: sign + text}, nil
}

// pyRepr formats a parsed value roughly as Python would, for messages.
func pyRepr(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
	case pyBytes:
		return "b'" + strings.ReplaceAll(string(v), "'", `\'`) + "'"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case pyNone:
		return "None"
	case pyInt:
		if v.big {
			return v.text
		}
		return strconv.FormatInt(v.v, 10)
	case pyFloat:
		return string(v)
	case pyTuple:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = pyRepr(x)
		}
		if len(v) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case pyList:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = pyRepr(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *pyDict:
		parts := make([]string, len(v.keys))
		for i := range v.keys {
			parts[i] = pyRepr(v.keys[i]) + ": " + pyRepr(v.vals[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
