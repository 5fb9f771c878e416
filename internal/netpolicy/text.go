package netpolicy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRemoteText is how many bytes of text written by a remote party (an
// engine's error body, a webhook's status line) are kept in an error that
// may be stored or served.
const MaxRemoteText = 512

// RemoteText bounds text from a remote party for an error message: control
// characters become spaces, invalid UTF-8 is dropped, and text longer than
// MaxRemoteText bytes is cut on a rune boundary and marked "…(truncated)".
func RemoteText(s string) string {
	cut := len(s) > MaxRemoteText
	if cut {
		s = s[:MaxRemoteText]
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return -1
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if cut {
		s += "…(truncated)"
	}
	return s
}
