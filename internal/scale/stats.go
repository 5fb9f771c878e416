package scale

import (
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Percentile returns the p-th percentile (0..100) of xs by the nearest-rank
// method: the smallest value with at least p % of the values at or below
// it. xs need not be sorted and is left unchanged; it returns 0 for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

// Dist summarises a distribution of durations, in seconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// distOf returns the p50, p99 and max of xs.
func distOf(xs []float64) Dist {
	d := Dist{N: len(xs), P50: Percentile(xs, 50), P99: Percentile(xs, 99)}
	if len(xs) > 0 {
		d.Max = slices.Max(xs)
	}
	return d
}

// Cycle is one stored metrics cycle: the host_metrics row's cycle_at (when
// the workflow started the cycle) and collected_at (when the stats were read).
type Cycle struct {
	At          time.Time
	CollectedAt time.Time
}

// CycleStats is what the stored cycles say about a window.
type CycleStats struct {
	Environments int `json:"environments"`
	// Due is Σ window/interval over every environment (environments with no
	// cycle count too); Stored the cycles whose cycle_at is in the window;
	// Credited is Due less the slots of the schedule that got no cycle
	// (MissedSlots; see CountCycles), so that an environment's extra cycle
	// does not hide another's missing one, and a cycle that a little
	// lateness pushed past the window's end is not counted as missed.
	Due      float64 `json:"due"`
	Stored   int     `json:"stored"`
	Credited float64 `json:"credited"`
	// Percent is 100 × Credited / Due.
	Percent float64 `json:"percent"`
	// WithoutCycle counts the environments with no cycle in the window.
	WithoutCycle int `json:"withoutCycle"`
	// MissedSlots counts the slots of the schedule with no cycle.
	MissedSlots float64 `json:"missedSlots"`
	// Lateness is (cycle_at[i] − cycle_at[i−1]) − interval over consecutive
	// cycles of one environment, for every cycle i in the window (i−1 may be
	// before it); Collect is collected_at − cycle_at of the cycles in the window.
	Lateness Dist `json:"lateness"`
	Collect  Dist `json:"collect"`
}

// missedSlots counts the slots of one environment's schedule in [from, to)
// that got no cycle, from its cycles sorted by time: a gap of n intervals
// between two cycles in the window misses n − 1 slots, and the stretches
// before the first and after the last cycle miss one slot per full interval
// beyond half an interval of tolerance (a cycle due just inside the window
// may start just outside it). No cycle in the window misses every slot.
func missedSlots(cs []Cycle, from, to time.Time, interval time.Duration) float64 {
	var in []time.Time
	for _, c := range cs {
		if !c.At.Before(from) && c.At.Before(to) {
			in = append(in, c.At)
		}
	}
	if len(in) == 0 {
		return float64(to.Sub(from)) / float64(interval)
	}
	tol := interval / 2
	edge := func(d time.Duration) float64 {
		return math.Max(0, math.Floor(float64(d-tol)/float64(interval)))
	}
	missed := edge(in[0].Sub(from)) + edge(to.Sub(in[len(in)-1]))
	for i := 1; i < len(in); i++ {
		missed += math.Max(0, math.Round(float64(in[i].Sub(in[i-1]))/float64(interval))-1)
	}
	return missed
}

// CountCycles compares the cycles stored per environment with the cycles
// due in [from, to) at one per interval. envs lists every registered
// environment, so that one with no cycle at all still counts as due; cycles
// may hold cycles outside the window (the one before it gives the first
// lateness) and need not be sorted.
func CountCycles(envs []uuid.UUID, cycles map[uuid.UUID][]Cycle, from, to time.Time, interval time.Duration) CycleStats {
	st := CycleStats{Environments: len(envs)}
	if interval <= 0 || !to.After(from) {
		return st
	}
	perEnv := float64(to.Sub(from)) / float64(interval)
	var late, collect []float64
	for _, id := range envs {
		cs := slices.Clone(cycles[id])
		slices.SortFunc(cs, func(a, b Cycle) int { return a.At.Compare(b.At) })
		in := 0
		for i, c := range cs {
			if c.At.Before(from) || !c.At.Before(to) {
				continue
			}
			in++
			if !c.CollectedAt.IsZero() {
				collect = append(collect, c.CollectedAt.Sub(c.At).Seconds())
			}
			if i > 0 {
				late = append(late, (c.At.Sub(cs[i-1].At) - interval).Seconds())
			}
		}
		missed := missedSlots(cs, from, to, interval)
		st.Due += perEnv
		st.Stored += in
		st.MissedSlots += math.Min(missed, perEnv)
		st.Credited += math.Max(0, perEnv-missed)
		if in == 0 {
			st.WithoutCycle++
		}
	}
	if st.Due > 0 {
		st.Percent = 100 * st.Credited / st.Due
	}
	st.Lateness = distOf(late)
	st.Collect = distOf(collect)
	return st
}
