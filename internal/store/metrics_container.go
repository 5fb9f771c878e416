package store

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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
	values := `avg(cpu_percent), max(cpu_percent), round(avg(memory_used))::bigint, max(memory_used), max(memory_limit),
		max(net_rx), max(net_tx), max(block_read), max(block_write), count(*)::int`
	if tier.Unit > 0 {
		values = `sum(cpu_sum) / sum(samples), max(cpu_max), round(sum(memory_used_sum)::numeric / sum(samples))::bigint,
			max(memory_used_max), max(memory_limit_max), max(net_rx_max), max(net_tx_max),
			max(block_read_max), max(block_write_max), sum(samples)::int`
	}
	where := fmt.Sprintf(`environment_id = $1 AND %[1]s = $2 AND %[2]s >= $3::timestamptz AND %[2]s < $4::timestamptz`, column, tier.at)
	stride := pgtype.Interval{Microseconds: step.Microseconds(), Valid: true}

	batch := &pgx.Batch{}
	batch.Queue(fmt.Sprintf(`SELECT date_bin($5::interval, %[2]s, $3::timestamptz) AS b, %[3]s
		FROM %[1]s WHERE %[4]s GROUP BY b ORDER BY b`, tier.container, tier.at, values, where),
		envID, value, from, to, stride)
	batch.Queue(fmt.Sprintf(`SELECT container_id, container_name, min(%[2]s), max(%[2]s)
		FROM %[1]s WHERE %[3]s GROUP BY 1, 2 ORDER BY 3, 1`, tier.container, tier.at, where),
		envID, value, from, to)
	results := s.pool.SendBatch(ctx, batch)
	defer results.Close()

	out := ContainerSeries{Tier: tier}
	rows, _ := results.Query()
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ContainerPoint, error) {
		var (
			p       ContainerPoint
			samples int32
		)
		err := row.Scan(&p.Time, &p.CPUPercent, &p.CPUPercentMax, &p.MemoryUsed, &p.MemoryUsedMax, &p.MemoryLimit,
			&p.NetRx, &p.NetTx, &p.BlockRead, &p.BlockWrite, &samples)
		p.Time = p.Time.UTC()
		p.Samples = int(samples)
		return p, err
	})
	if err != nil {
		return ContainerSeries{}, fmt.Errorf("store: container series: %w", err)
	}
	out.Points = points
	rows, _ = results.Query()
	containers, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SeriesContainer, error) {
		var c SeriesContainer
		err := row.Scan(&c.ID, &c.Name, &c.First, &c.Last)
		c.First, c.Last = c.First.UTC(), c.Last.UTC()
		return c, err
	})
	if err != nil {
		return ContainerSeries{}, fmt.Errorf("store: container series: containers: %w", err)
	}
	out.Containers = containers
	return out, nil
}
