package webtorrent

import (
	"encoding/hex"
	"unicode/utf16"
	"unicode/utf8"
)

// IDLen is the length of an info hash, peer id or offer id: 20 bytes, sent as a
// 20-character binary string.
const IDLen = 20

// Hex is the lowercase hex form of a 20-byte id, as the library keys its swarms.
func Hex(id string) string { return hex.EncodeToString([]byte(id)) }

// decodeBinary turns a JSON string literal (quotes included, already valid JSON) into
// the bytes the library's bin2hex would see: Buffer.from(str, 'binary') keeps the low
// byte of every UTF-16 code unit, so U+0100 becomes 0x00 and a character above U+FFFF
// becomes its two surrogates' low bytes. ok is false if raw is not a string. n is the
// string's length in UTF-16 code units (JavaScript's str.length).
func decodeBinary(raw []byte) (b []byte, n int, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, 0, false
	}
	s := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			r, size := utf8.DecodeRune(s[i:])
			i += size
			if r >= 0x10000 {
				hi, lo := utf16.EncodeRune(r)
				out = append(out, byte(hi), byte(lo))
			} else {
				out = append(out, byte(r))
			}
			continue
		}
		if i+1 >= len(s) {
			return nil, 0, false
		}
		switch e := s[i+1]; e {
		case 'u':
			if i+6 > len(s) {
				return nil, 0, false
			}
			v, err := hex.DecodeString(string(s[i+2 : i+6]))
			if err != nil {
				return nil, 0, false
			}
			out = append(out, v[1]) // one code unit, surrogates included, low byte
			i += 6
		default:
			r, ok := unescape[e]
			if !ok {
				return nil, 0, false
			}
			out = append(out, r)
			i += 2
		}
	}
	return out, len(out), true
}

var unescape = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// appendBinary writes id as the library's hex2bin + JSON.stringify would: every byte
// is the character U+0000–U+00FF.
func appendBinary(dst []byte, id string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(id); i++ {
		dst = appendJSChar(dst, rune(id[i]))
	}
	return append(dst, '"')
}

// appendString writes s (UTF-8) as JSON.stringify does: only '"', '\\' and control
// characters are escaped, the rest is written as is (no HTML escaping, unlike
// encoding/json). Invalid UTF-8 is written as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		dst = appendJSChar(dst, r)
	}
	return append(dst, '"')
}

func appendJSChar(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 {
		const digits = "0123456789abcdef"
		return append(dst, '\\', 'u', '0', '0', digits[r>>4], digits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}
