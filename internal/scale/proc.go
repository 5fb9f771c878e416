package scale

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ParseStatCPU returns utime+stime, in clock ticks, from the content of
// /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func ParseStatCPU(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no ')' after the command name")
	}
	// After ')': state(3) ppid(4) … utime(14) stime(15).
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat: stime: %w", err)
	}
	return utime + stime, nil
}

// ParseStatusRSS returns VmRSS, in bytes, from the content of
// /proc/<pid>/status (0 for a process without one, such as a zombie).
func ParseStatusRSS(status []byte) (uint64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc status: VmRSS line %q", line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status: VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, nil
}

// ParseProcStat returns the busy and total jiffies of all CPUs from the
// content of /proc/stat (its first "cpu" line); busy excludes idle and iowait.
func ParseProcStat(stat []byte) (busy, total uint64, err error) {
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	// user nice system idle iowait irq softirq steal (guest time is already in user).
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

// procRoot is where /proc is (tests point it at a fixture).
var procRoot = "/proc"

func readProc(pid int, file string) ([]byte, error) {
	return os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), file))
}

// cmdline returns a process's command line with NULs turned into spaces.
func cmdline(pid int) string {
	b, _ := readProc(pid, "cmdline")
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// comm returns a process's command name.
func comm(pid int) string {
	b, _ := readProc(pid, "comm")
	return strings.TrimSpace(string(b))
}

// pids returns every process ID under procRoot for which keep is true.
func pids(keep func(pid int) bool) []int {
	ents, _ := os.ReadDir(procRoot)
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && keep(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// PostgresPIDs returns every postgres process (server and backends).
func PostgresPIDs() []int {
	return pids(func(pid int) bool { return comm(pid) == "postgres" })
}

// TemporalPID returns the pid of the Temporal dev server: the one in
// pidFile when that process is a `temporal server start-dev`, else the
// first such process found, else 0.
func TemporalPID(pidFile string) int {
	isDev := func(pid int) bool {
		c := cmdline(pid)
		return strings.Contains(c, "temporal") && strings.Contains(c, "start-dev")
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isDev(pid) {
			return pid
		}
	}
	if ps := pids(isDev); len(ps) > 0 {
		return ps[0]
	}
	return 0
}

// ProcGroup is a named set of processes measured together (all postgres
// processes are one group); PIDs is called at every sample, so processes
// that come and go are followed.
type ProcGroup struct {
	Name string
	PIDs func() []int
}

// ProcUsage is what one group used over the window.
type ProcUsage struct {
	Name string `json:"name"`
	// Processes is how many processes the group had at the end.
	Processes int `json:"processes"`
	// CPUPercent is the CPU time over the window in % of one core.
	CPUPercent float64 `json:"cpuPercent"`
	// RSS is the mean and the largest of the RSS samples (the group's sum), in bytes.
	RSSMean uint64 `json:"rssMeanBytes"`
	RSSMax  uint64 `json:"rssMaxBytes"`
	// PIDs are the group's processes at the end.
	PIDs []int `json:"pids"`
}

// ProcSampler measures CPU and RSS of process groups between Start and Stop.
type ProcSampler struct {
	groups []ProcGroup
	every  time.Duration

	mu     sync.Mutex
	start  time.Time
	ticks0 []map[int]uint64
	busy0  uint64
	total0 uint64
	rssSum []uint64
	rssMax []uint64
	rssN   int
	stop   chan struct{}
	done   chan struct{}
}

// NewProcSampler samples the RSS of groups every `every`.
func NewProcSampler(groups []ProcGroup, every time.Duration) *ProcSampler {
	return &ProcSampler{groups: groups, every: every}
}

func (s *ProcSampler) ticks() []map[int]uint64 {
	out := make([]map[int]uint64, len(s.groups))
	for i, g := range s.groups {
		out[i] = map[int]uint64{}
		for _, pid := range g.PIDs() {
			b, err := readProc(pid, "stat")
			if err != nil {
				continue // gone
			}
			if t, err := ParseStatCPU(b); err == nil {
				out[i][pid] = t
			}
		}
	}
	return out
}

func (s *ProcSampler) sampleRSS() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range s.groups {
		var sum uint64
		for _, pid := range g.PIDs() {
			if b, err := readProc(pid, "status"); err == nil {
				if r, err := ParseStatusRSS(b); err == nil {
					sum += r
				}
			}
		}
		s.rssSum[i] += sum
		s.rssMax[i] = max(s.rssMax[i], sum)
	}
	s.rssN++
}

// Start takes the first CPU readings and starts sampling RSS.
func (s *ProcSampler) Start() {
	s.rssSum = make([]uint64, len(s.groups))
	s.rssMax = make([]uint64, len(s.groups))
	s.start = time.Now()
	s.ticks0 = s.ticks()
	if b, err := os.ReadFile(filepath.Join(procRoot, "stat")); err == nil {
		s.busy0, s.total0, _ = ParseProcStat(b)
	}
	s.sampleRSS()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sampleRSS()
			}
		}
	}()
}

// Stop ends sampling and returns each group's usage, and the whole
// machine's busy CPU in % of one core (NaN-free: 0 when unknown).
func (s *ProcSampler) Stop() (usage []ProcUsage, machineCPU float64) {
	close(s.stop)
	<-s.done
	s.sampleRSS()
	wall := time.Since(s.start).Seconds()
	ticks1 := s.ticks()
	for i, g := range s.groups {
		var d uint64
		for pid, t1 := range ticks1[i] {
			t0 := s.ticks0[i][pid] // 0 for a process born in the window: all its time is in it
			if t1 > t0 {
				d += t1 - t0
			}
		}
		u := ProcUsage{Name: g.Name, Processes: len(ticks1[i]), RSSMax: s.rssMax[i]}
		for pid := range ticks1[i] {
			u.PIDs = append(u.PIDs, pid)
		}
		slices.Sort(u.PIDs)
		if s.rssN > 0 {
			u.RSSMean = s.rssSum[i] / uint64(s.rssN)
		}
		if wall > 0 {
			u.CPUPercent = 100 * float64(d) / clockTicks / wall
		}
		usage = append(usage, u)
	}
	if b, err := os.ReadFile(filepath.Join(procRoot, "stat")); err == nil {
		if busy1, total1, err := ParseProcStat(b); err == nil && total1 > s.total0 && wall > 0 {
			// busy jiffies over the window, as % of one core (200 % = 2 cores busy).
			machineCPU = 100 * float64(busy1-s.busy0) / clockTicks / wall
		}
	}
	return usage, machineCPU
}

// DevServerDB returns the SQLite file the dev server of pid keeps
// (--db-filename, made absolute against its working directory) and its
// size in bytes; "" when it keeps none (in memory) or pid is unknown.
func DevServerDB(pid int) (path string, size int64) {
	b, err := readProc(pid, "cmdline")
	if err != nil {
		return "", 0
	}
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		if a == "--db-filename" && i+1 < len(args) {
			path = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--db-filename="); ok {
			path = v
		}
	}
	if path == "" {
		return "", 0
	}
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "cwd"))
		if err != nil {
			return path, 0
		}
		path = filepath.Join(cwd, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return path, 0
	}
	return path, fi.Size()
}
