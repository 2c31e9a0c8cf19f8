package intake

import (
	"strings"
	"unicode/utf8"
)

// windows1252 maps the bytes 0x80–0x9F, where Windows-1252 differs from ISO-8859-1; 0 marks
// the five undefined bytes, kept as their ISO-8859-1 control code (then dropped by clean).
var windows1252 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// decodeWindows1252 converts Windows-1252 (and so ISO-8859-1 text) to UTF-8.
func decodeWindows1252(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		r := rune(c)
		if c >= 0x80 && c < 0xA0 && windows1252[c-0x80] != 0 {
			r = windows1252[c-0x80]
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// isLatin reports whether an XML encoding label names Windows-1252 or a subset of it.
func isLatin(label string) bool {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252",
		"us-ascii", "ascii":
		return true
	}
	return false
}
