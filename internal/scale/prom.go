package scale

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sample is one sample line of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParsePrometheus parses the Prometheus text exposition format (version
// 0.0.4): comment and blank lines are skipped, label values are unescaped.
func ParsePrometheus(text string) ([]Sample, error) {
	var out []Sample
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("prometheus text line %d: %w", n+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " \t,")
			if line == "" {
				return s, fmt.Errorf("unterminated labels")
			}
			if line[0] == '}' {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, fmt.Errorf("bad label in %q", line)
			}
			name := strings.TrimSpace(line[:eq])
			line = line[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						v.WriteByte('\n')
					default: // \\ and \"
						v.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line, closed = line[j+1:], true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value of %s", name)
			}
			s.Labels[name] = v.String()
		}
	}
	f := strings.Fields(line)
	if len(f) < 1 || len(f) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp, got %q", line)
	}
	v, err := parseFloat(f[0])
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// Sum adds the values of the samples named name whose labels include every
// pair of match; found says whether any sample matched.
func Sum(samples []Sample, name string, match map[string]string) (sum float64, found bool) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		found = true
	}
	return sum, found
}

// heartbeatMetric and heartbeatOperations are the Temporal SDK's request
// counter, as the worker's /metrics exposes it (the OpenTelemetry handler
// adds _total), and the operations that record a heartbeat.
const heartbeatMetric = "temporal_request_total"

var heartbeatOperations = []string{"RecordActivityTaskHeartbeat", "RecordActivityTaskHeartbeatById"}

// Heartbeats returns the heartbeat RPCs the SDK counted in samples.
func Heartbeats(samples []Sample) (n float64, found bool) {
	for _, op := range heartbeatOperations {
		v, ok := Sum(samples, heartbeatMetric, map[string]string{"operation": op})
		n += v
		found = found || ok
	}
	return n, found
}
