package agentproto

import (
	"net/http"
	"strings"
)

// ReadOnlyCall reports whether an agent forwards the Engine API call
// method path to its engine: GET or HEAD of one of the read-only calls the
// monitor makes (ping, version, info, containers list, container inspect
// and stats, events, system df), with or without a /v<major>.<minor>
// prefix. path is the request's path as sent (escaped form, no query).
//
// Anything else is refused: other methods (create, start, kill, delete),
// other paths (exec, attach, images, volumes), and any path that is not in
// the plain form the monitor sends (percent-encoding, empty, "." or ".."
// segments, a trailing slash), so that no reading of the path by the
// engine can differ from the one judged here.
func ReadOnlyCall(method, path string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	segs, ok := splitPlain(path)
	if !ok {
		return false
	}
	if len(segs) > 0 && apiVersion(segs[0]) {
		segs = segs[1:]
	}
	switch len(segs) {
	case 1:
		switch segs[0] {
		case "_ping", "version", "info", "events":
			return true
		}
	case 2:
		return segs[0] == "containers" && segs[1] == "json" ||
			segs[0] == "system" && segs[1] == "df"
	case 3:
		return segs[0] == "containers" && containerRef(segs[1]) &&
			(segs[2] == "json" || segs[2] == "stats")
	}
	return false
}

// splitPlain splits an absolute path into its segments, refusing any byte
// outside letters, digits and "/_.-" and any empty segment.
func splitPlain(path string) ([]string, bool) {
	if !strings.HasPrefix(path, "/") || len(path) > 512 {
		return nil, false
	}
	for i := 0; i < len(path); i++ {
		if !plainByte(path[i]) && path[i] != '/' {
			return nil, false
		}
	}
	segs := strings.Split(path[1:], "/")
	for _, s := range segs {
		if s == "" {
			return nil, false
		}
	}
	return segs, true
}

// apiVersion reports whether seg is a version prefix: v<digits>.<digits>.
func apiVersion(seg string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(seg, "v"), ".")
	return strings.HasPrefix(seg, "v") && ok && digits(major) && digits(minor)
}

// containerRef reports whether seg can be a container ID or name as the
// engine accepts them: [a-zA-Z0-9][a-zA-Z0-9_.-]* (so never "." or "..").
func containerRef(seg string) bool {
	return seg != "" && alnum(seg[0])
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func plainByte(b byte) bool {
	return alnum(b) || b == '_' || b == '.' || b == '-'
}
