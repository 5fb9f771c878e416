package fakeengine

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lookup finds a container by full ID, name (with or without its leading
// slash) or unique ID prefix; -1 when none or ambiguous.
func (e *Engine) lookup(key string) int {
	if i, ok := e.byKey[key]; ok {
		return i
	}
	if i, ok := e.byKey[strings.TrimPrefix(key, "/")]; ok {
		return i
	}
	found := -1
	for i := range e.containers {
		if strings.HasPrefix(e.containers[i].id, key) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// serveStats answers GET /containers/{id}/stats at the next shared tick.
func (e *Engine) serveStats(w http.ResponseWriter, r *http.Request, key string) {
	i := e.lookup(key)
	if i < 0 {
		writeError(w, http.StatusNotFound, "No such container: "+key)
		return
	}
	c := &e.containers[i]
	stream := true
	if v, ok := queryValue(r.URL.RawQuery, "stream"); ok {
		stream = boolValue(v)
	}
	oneShot := false
	if v, ok := queryValue(r.URL.RawQuery, "one-shot"); ok {
		oneShot = boolValue(v)
	}
	if stream && oneShot {
		writeError(w, http.StatusBadRequest, "cannot have stream=true and one-shot=true")
		return
	}
	ctx := r.Context()
	if e.f.opts.Phases && !stream {
		e.serveOwnPublish(ctx, w, c, oneShot)
		return
	}
	prev := e.f.cur.Load()
	flusher, _ := w.(http.Flusher)
	if stream {
		setHeaders(w.Header(), hdrJSON)
		w.WriteHeader(http.StatusOK)
		if flusher != nil {
			flusher.Flush()
		}
	}
	for {
		select {
		case <-prev.done:
		case <-ctx.Done():
			return
		case <-e.done:
			return
		}
		cur := prev.next
		b := getBuf()
		if oneShot {
			*b = e.appendStats(*b, c, cur, nil)
		} else {
			*b = e.appendStats(*b, c, cur, prev)
		}
		if !stream {
			writeJSON(w, http.StatusOK, *b)
			putBuf(b)
			return
		}
		_, err := w.Write(*b)
		putBuf(b)
		if err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		prev = cur
	}
}

// cpuAt returns the container's total_usage and the host's
// system_cpu_usage at tick t.
func (e *Engine) cpuAt(c *fakeContainer, t *tick) (total, sys uint64) {
	el := uint64(t.elapsed)
	sys = e.sysBase + uint64(e.f.opts.NCPU)*el
	total = c.cpuBase + uint64(c.pct/100*float64(el))
	return total, sys
}

// rate returns base + perSecond × elapsed.
func rate(base, perSecond uint64, t *tick) uint64 {
	return base + uint64(float64(perSecond)*float64(t.elapsed)/float64(time.Second))
}

var zeroTime = []byte(`"0001-01-01T00:00:00Z"`)

// appendStats appends the stats record of c at tick cur; pre is the tick of
// precpu_stats, nil for the empty precpu of a one-shot read.
func (e *Engine) appendStats(b []byte, c *fakeContainer, cur, pre *tick) []byte {
	b = append(b, `{"read":"`...)
	b = cur.at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","preread":`...)
	if pre == nil {
		b = append(b, zeroTime...)
	} else {
		b = append(b, '"')
		b = pre.at.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, c.head...)
	b = strconv.AppendUint(b, rate(c.rdBase, c.rdRate, cur), 10)
	b = append(b, `},{"major":8,"minor":0,"op":"write","value":`...)
	b = strconv.AppendUint(b, rate(c.wrBase, c.wrRate, cur), 10)
	b = append(b, `}],"io_serviced_recursive":null,"io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,"io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},"num_procs":0,"storage_stats":{},"cpu_stats":`...)
	total, sys := e.cpuAt(c, cur)
	b = e.appendCPU(b, total, sys)
	b = append(b, `,"precpu_stats":`...)
	if pre == nil {
		b = append(b, `{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}}`...)
	} else {
		total, sys := e.cpuAt(c, pre)
		b = e.appendCPU(b, total, sys)
	}
	b = append(b, c.mem...)
	rx := rate(c.rxBase, c.rxRate, cur)
	tx := rate(c.txBase, c.txRate, cur)
	b = strconv.AppendUint(b, rx, 10)
	b = append(b, `,"rx_packets":`...)
	b = strconv.AppendUint(b, rx/1200, 10)
	b = append(b, `,"rx_errors":0,"rx_dropped":0,"tx_bytes":`...)
	b = strconv.AppendUint(b, tx, 10)
	b = append(b, `,"tx_packets":`...)
	b = strconv.AppendUint(b, tx/900, 10)
	b = append(b, `,"tx_errors":0,"tx_dropped":0}}}`+"\n"...)
	return b
}

func (e *Engine) appendCPU(b []byte, total, sys uint64) []byte {
	user := total / 10 * 7
	b = append(b, `{"cpu_usage":{"total_usage":`...)
	b = strconv.AppendUint(b, total, 10)
	b = append(b, `,"usage_in_kernelmode":`...)
	b = strconv.AppendUint(b, total-user, 10)
	b = append(b, `,"usage_in_usermode":`...)
	b = strconv.AppendUint(b, user, 10)
	b = append(b, `},"system_cpu_usage":`...)
	b = strconv.AppendUint(b, sys, 10)
	b = append(b, `,"online_cpus":`...)
	b = strconv.AppendInt(b, int64(e.f.opts.NCPU), 10)
	b = append(b, `,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}}`...)
	return b
}

// serveOwnPublish answers a stats read at this engine's own next publish
// (Options.Phases): the daemon publishes every StatsTick at its phase, so a
// read waits between 0 and one StatsTick, half of it on average, as on
// dockerd; the record is that of the publish, precpu one StatsTick before.
func (e *Engine) serveOwnPublish(ctx context.Context, w http.ResponseWriter, c *fakeContainer, oneShot bool) {
	period := e.f.opts.StatsTick
	var k time.Duration // the first publish at or after now
	if since := time.Since(e.f.start) - e.phase; since > 0 {
		k = (since + period - 1) / period
	}
	at := k*period + e.phase // since the fleet's start
	t := time.NewTimer(at - time.Since(e.f.start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return
	case <-e.done:
		return
	}
	cur := &tick{at: e.f.start.Add(at).UTC(), elapsed: at.Nanoseconds()}
	var pre *tick
	if !oneShot {
		pre = &tick{at: e.f.start.Add(at - period).UTC(), elapsed: (at - period).Nanoseconds()}
	}
	b := getBuf()
	*b = e.appendStats(*b, c, cur, pre)
	writeJSON(w, http.StatusOK, *b)
	putBuf(b)
}
