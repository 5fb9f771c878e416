package notify

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFieldRunes caps a single name (environment, container, image) in a
// rendered message.
const maxFieldRunes = 200

// cleanText makes s safe for a one-line field: control characters (newlines
// included) become spaces, runs of spaces collapse, the ends are trimmed,
// invalid UTF-8 is replaced, and the result is capped at maxRunes.
func cleanText(s string, maxRunes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	return truncateRunes(s, maxRunes)
}

// truncateRunes returns s when it has at most limit runes, else its first
// limit−1 runes followed by "…" (so the result has limit runes).
func truncateRunes(s string, limit int) string {
	if limit <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	return string(runes[:limit-1]) + "…"
}

// shortID returns the first 12 characters of a container ID, Docker's
// short form.
func shortID(id string) string {
	id = cleanText(id, 64)
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// userinfoPattern matches the userinfo part of URLs inside free text.
var userinfoPattern = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s"'@]*@`)

// redactUserinfo replaces "user:password@" in every URL inside text with
// "***@". Error texts (e.g. from an engine endpoint such as
// ssh://user@host or tcp://user:pass@host) keep their host and path.
func redactUserinfo(text string) string {
	return userinfoPattern.ReplaceAllString(text, "${1}***@")
}
