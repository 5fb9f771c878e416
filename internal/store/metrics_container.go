package store

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// ContainerSelector picks the rows of a per-container series: those of one
// container ID, or those of every container that had a name.
type ContainerSelector struct {
	// ID is a full container ID; when empty, Name selects.
	ID string
	// Name is a container name (without Docker's leading "/").
	Name string
}

// ContainerPoint is the reading of one container (or of the containers of
// one name) over one time bucket.
type ContainerPoint struct {
	// Time is the start of the bucket.
	Time time.Time
	// CPUPercent is the average, CPUPercentMax the highest reading.
	CPUPercent, CPUPercentMax float64
	// MemoryUsed is the average rounded to whole bytes, MemoryUsedMax the
	// highest reading; MemoryLimit is the highest limit.
	MemoryUsed, MemoryUsedMax, MemoryLimit int64
	// NetRx, NetTx, BlockRead and BlockWrite are the highest readings of
	// these counters, which only grow while a container lives: its latest.
	NetRx, NetTx, BlockRead, BlockWrite int64
	// Samples is the number of raw rows behind the point.
	Samples int
}

// SeriesContainer is one container a series covers, under one name.
type SeriesContainer struct {
	ID, Name string
	// First and Last are the first and last times it has rows in the
	// series' range (bucket starts for a rollup tier).
	First, Last time.Time
}

// ContainerSeries is the answer of ContainerSeries.
type ContainerSeries struct {
	// Tier is the tier read (SeriesTier(from, step)).
	Tier Tier
	// Containers are the (ID, name) pairs the points cover, by first time.
	Containers []SeriesContainer
	// Points are ordered by time; buckets without rows are omitted.
	Points []ContainerPoint
}

// shortIDPattern is a container ID or the prefix of one that Docker
// accepts as a short ID (12 hex digits or more).
var shortIDPattern = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// ResolveContainer turns what a user calls a container — its full ID, a
// short ID (a prefix of 12 hex digits or more) or its name — into the
// selector of its series, looking at every tier (so a container known only
// to the rollups is found). An ID or ID prefix wins over a name; a prefix
// of several IDs is ErrInvalid; nothing known is ErrNotFound.
func (s *Store) ResolveContainer(ctx context.Context, envID uuid.UUID, ref string) (ContainerSelector, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return ContainerSelector{}, fmt.Errorf("store: resolve container: %w: empty container", ErrInvalid)
	}
	if shortIDPattern.MatchString(ref) {
		ids, err := s.containerIDsWithPrefix(ctx, envID, ref)
		if err != nil {
			return ContainerSelector{}, err
		}
		switch len(ids) {
		case 1:
			return ContainerSelector{ID: ids[0]}, nil
		case 0: // maybe a name
		default:
			return ContainerSelector{}, fmt.Errorf("store: resolve container: %w: %q is the prefix of several container IDs", ErrInvalid, ref)
		}
	}
	var known bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM container_metrics_1h WHERE environment_id = $1 AND container_name = $2)
			OR EXISTS (SELECT 1 FROM container_metrics_1m WHERE environment_id = $1 AND container_name = $2)
			OR EXISTS (SELECT 1 FROM container_metrics WHERE environment_id = $1 AND container_name = $2)`,
		envID, ref).Scan(&known)
	if err != nil {
		return ContainerSelector{}, fmt.Errorf("store: resolve container: %w", err)
	}
	if !known {
		return ContainerSelector{}, fmt.Errorf("store: resolve container %q: %w", ref, ErrNotFound)
	}
	return ContainerSelector{Name: ref}, nil
}

// containerIDsWithPrefix returns the distinct container IDs of the
// environment starting with prefix (hex), at most two: the smallest and
// the largest, found by index probes in every tier.
func (s *Store) containerIDsWithPrefix(ctx context.Context, envID uuid.UUID, prefix string) ([]string, error) {
	// Hex digits sort before 'g' in every collation; left() keeps the
	// answer right whatever the collation.
	upper := prefix + "g"
	var probes []string
	for _, table := range []string{"container_metrics_1h", "container_metrics_1m", "container_metrics"} {
		for _, agg := range []string{"min", "max"} {
			probes = append(probes, fmt.Sprintf(`(SELECT %s(container_id) FROM %s WHERE environment_id = $1
				AND container_id >= $2 AND container_id < $3 AND left(container_id, length($2)) = $2)`, agg, table))
		}
	}
	found := make([]pgtype.Text, len(probes))
	dest := make([]any, len(probes))
	for i := range found {
		dest[i] = &found[i]
	}
	if err := s.pool.QueryRow(ctx, "SELECT "+strings.Join(probes, ", "), envID, prefix, upper).Scan(dest...); err != nil {
		return nil, fmt.Errorf("store: resolve container: %w", err)
	}
	var ids []string
	for _, id := range found {
		if id.Valid && !slices.Contains(ids, id.String) {
			ids = append(ids, id.String)
		}
	}
	return ids, nil
}

// ContainerSeries averages the rows of sel in the environment over
// [from, to) into buckets of length step starting at from, reading
// SeriesTier(from, step) as HostSeries does, and lists the containers
// (ID and name) the rows belong to. A rollup bucket carries the name of its
// latest reading: a rename counts from the bucket it happened in.
func (s *Store) ContainerSeries(ctx context.Context, envID uuid.UUID, sel ContainerSelector, from, to time.Time, step time.Duration) (ContainerSeries, error) {
	if step < time.Microsecond {
		return ContainerSeries{}, fmt.Errorf("store: container series: %w: step %s is below a microsecond", ErrInvalid, step)
	}
	if (sel.ID == "") == (sel.Name == "") {
		return ContainerSeries{}, fmt.Errorf("store: container series: %w: select an ID or a name", ErrInvalid)
	}
	tier := SeriesTier(from, step)
	column, value := "container_id", sel.ID
	if sel.ID == "" {
		column, value = "container_name", sel.Name
	}
	values := `sum(cpu_percent), count(*), max(cpu_percent), sum(memory_used)::float8, max(memory_used), max(memory_limit),
		max(net_rx), max(net_tx), max(block_read), max(block_write)`
	if tier.Unit > 0 {
		values = `sum(cpu_sum), sum(samples), max(cpu_max), sum(memory_used_sum)::float8, max(memory_used_max),
			max(memory_limit_max), max(net_rx_max), max(net_tx_max), max(block_read_max), max(block_write_max)`
	}
	stride := pgtype.Interval{Microseconds: step.Microseconds(), Valid: true}
	// One scan: a row per bucket and (ID, name), merged here into the
	// bucket's point and the list of containers.
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`
		SELECT date_bin($5::interval, %[2]s, $3::timestamptz) AS b, container_id, container_name,
			min(%[2]s), max(%[2]s), %[3]s
		FROM %[1]s
		WHERE environment_id = $1 AND %[4]s = $2 AND %[2]s >= $3::timestamptz AND %[2]s < $4::timestamptz
		GROUP BY b, container_id, container_name
		ORDER BY b, 4`, tier.container, tier.at, values, column),
		envID, value, from, to, stride)
	if err != nil {
		return ContainerSeries{}, fmt.Errorf("store: container series: %w", err)
	}
	defer rows.Close()
	out := ContainerSeries{Tier: tier, Points: []ContainerPoint{}, Containers: []SeriesContainer{}}
	seen := map[[2]string]int{} // (ID, name) → index in out.Containers
	var cpuSum, memorySum float64
	flush := func() {
		if n := len(out.Points); n > 0 {
			p := &out.Points[n-1]
			p.CPUPercent = cpuSum / float64(p.Samples)
			p.MemoryUsed = int64(math.Round(memorySum / float64(p.Samples)))
		}
	}
	for rows.Next() {
		var (
			bucket, first, last time.Time
			id, name            string
			r                   ContainerPoint
			cpu, memory         float64
			samples             int64
		)
		if err := rows.Scan(&bucket, &id, &name, &first, &last, &cpu, &samples, &r.CPUPercentMax, &memory,
			&r.MemoryUsedMax, &r.MemoryLimit, &r.NetRx, &r.NetTx, &r.BlockRead, &r.BlockWrite); err != nil {
			return ContainerSeries{}, fmt.Errorf("store: container series: scan: %w", err)
		}
		bucket = bucket.UTC()
		if n := len(out.Points); n == 0 || !out.Points[n-1].Time.Equal(bucket) {
			flush()
			r.Time = bucket
			out.Points = append(out.Points, r)
			cpuSum, memorySum = 0, 0
		} else {
			p := &out.Points[n-1]
			p.CPUPercentMax = max(p.CPUPercentMax, r.CPUPercentMax)
			p.MemoryUsedMax = max(p.MemoryUsedMax, r.MemoryUsedMax)
			p.MemoryLimit = max(p.MemoryLimit, r.MemoryLimit)
			p.NetRx, p.NetTx = max(p.NetRx, r.NetRx), max(p.NetTx, r.NetTx)
			p.BlockRead, p.BlockWrite = max(p.BlockRead, r.BlockRead), max(p.BlockWrite, r.BlockWrite)
		}
		out.Points[len(out.Points)-1].Samples += int(samples)
		cpuSum += cpu
		memorySum += memory

		key := [2]string{id, name}
		if i, ok := seen[key]; ok {
			out.Containers[i].Last = last.UTC()
		} else {
			seen[key] = len(out.Containers)
			out.Containers = append(out.Containers, SeriesContainer{ID: id, Name: name, First: first.UTC(), Last: last.UTC()})
		}
	}
	if err := rows.Err(); err != nil {
		return ContainerSeries{}, fmt.Errorf("store: container series: %w", err)
	}
	flush()
	slices.SortFunc(out.Containers, func(a, b SeriesContainer) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		return strings.Compare(a.ID+"\x00"+a.Name, b.ID+"\x00"+b.Name)
	})
	return out, nil
}
