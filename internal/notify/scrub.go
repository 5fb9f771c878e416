package notify

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// minFragment is the shortest URL part ScrubURL hides on its own;
// shorter parts ("a", "1") would mangle the text and are no secrets.
// Parts shorter than minAnywhere ("hook", "api") are hidden only where
// they stand alone, not inside a longer word ("webhook").
const (
	minFragment = 3
	minAnywhere = 6
)

// embeddedURL matches URLs inside free text (shoutrrr and net/http errors
// quote the request URL, e.g. `Post "https://host/path?token=…": …`).
var embeddedURL = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>` + "`" + `]*`)

// ScrubURL returns text with the notification URL raw and every part of
// it that may be secret (userinfo, path and its segments, query keys and
// values, fragment, and a host that RedactURL hides) replaced by "***",
// in raw and in escaped form. Every URL inside text is first reduced to
// RedactURL's form, which also covers URLs a service derived from raw
// (e.g. https://api.telegram.org/bot<token>/sendMessage).
func ScrubURL(text, raw string) string {
	text = embeddedURL.ReplaceAllStringFunc(text, RedactURL)
	for _, f := range secretFragments(raw) {
		if len(f) >= minAnywhere {
			text = strings.ReplaceAll(text, f, "***")
		} else {
			text = replaceWord(text, f, "***")
		}
	}
	return text
}

// replaceWord replaces the occurrences of word in text that are not
// preceded or followed by a letter or digit.
func replaceWord(text, word, with string) string {
	var b strings.Builder
	last := 0 // text[:last] is written
	for from := 0; ; {
		i := strings.Index(text[from:], word)
		if i < 0 {
			b.WriteString(text[last:])
			return b.String()
		}
		start, end := from+i, from+i+len(word)
		if (start == 0 || !isWordByte(text[start-1])) && (end == len(text) || !isWordByte(text[end])) {
			b.WriteString(text[last:start])
			b.WriteString(with)
			last = end
		}
		from = end
	}
}

// isWordByte reports whether c is an ASCII letter or digit.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// secretFragments lists the parts of raw that must not appear in a text,
// longest first, each at least minFragment bytes long.
func secretFragments(raw string) []string {
	parts := []string{raw, strings.TrimSpace(raw)}
	if u, err := url.Parse(strings.TrimSpace(raw)); err == nil {
		parts = append(parts, urlParts(u)...)
	} else {
		parts = append(parts, strings.FieldsFunc(raw, func(r rune) bool {
			return isURLDelimiter(r) || r == '%' || unicode.IsSpace(r)
		})...)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range parts {
		for _, form := range []string{p, url.PathEscape(p), url.QueryEscape(p)} {
			if len(form) >= minFragment && !seen[form] {
				seen[form] = true
				out = append(out, form)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return out
}

// urlParts returns u's possibly secret parts.
func urlParts(u *url.URL) []string {
	var parts []string
	if u.User != nil {
		parts = append(parts, u.User.String(), u.User.Username())
		parts = append(parts, strings.FieldsFunc(u.User.Username(), isTokenDelimiter)...)
		if pw, ok := u.User.Password(); ok {
			parts = append(parts, pw)
			parts = append(parts, strings.FieldsFunc(pw, isTokenDelimiter)...)
		}
	}
	// A hidden host is a secret, unless it is the service's own name
	// (telegram://token@telegram).
	if hostHidden(u) && !strings.EqualFold(u.Hostname(), serviceScheme(u)) {
		parts = append(parts, u.Host, u.Hostname())
	}
	parts = append(parts, u.Opaque, u.Path, u.RawPath, u.RawQuery, u.Fragment, u.RawFragment)
	parts = append(parts, strings.FieldsFunc(u.Path, isURLDelimiter)...)
	parts = append(parts, strings.FieldsFunc(u.Fragment, isURLDelimiter)...)
	parts = append(parts, strings.FieldsFunc(u.RawQuery, isURLDelimiter)...)
	query, _ := url.ParseQuery(u.RawQuery)
	for key, values := range query {
		parts = append(parts, key)
		for _, v := range values {
			parts = append(parts, v)
			parts = append(parts, strings.Split(v, ",")...)
		}
	}
	return parts
}

// isTokenDelimiter reports whether r separates the parts of a composite
// token (slack's "A-B-C", telegram's "bot:key").
func isTokenDelimiter(r rune) bool {
	return isURLDelimiter(r) || r == '-' || r == '.'
}

// isURLDelimiter reports whether r separates URL parts.
func isURLDelimiter(r rune) bool {
	return strings.ContainsRune("/:@?&=#,;", r)
}
