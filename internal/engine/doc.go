// Package engine is the service's access to Docker engines ("environments"):
// connecting to an endpoint, reading container stats, and the arithmetic
// that turns them into CPU % and memory figures for one container
// (SampleFromStats, CPUPercent, MemoryUsed) and for the whole environment
// (HostTotals), with the docker CLI's formulas. The engine's event stream is
// decoded and filtered here too (events*.go).
//
// Collector.Collect reads a container one-shot when the caller passes its
// counters from the previous cycle, and with stream=false only for a
// container seen for the first time. On dockerd every stats read waits for
// the daemon's next 1 s stats pass (stream=false for the second), so the
// CPU % of a one-shot read covers the whole interval between cycles (within
// 2 points of docker stats: TestCollectCPUMatchesDockerStats), and every
// container is read at once: a cycle costs one pass per DefaultParallelism
// (128, WINDFLOW_STATS_PARALLELISM) containers. The cap bounds the
// connections one environment holds to its engine; lower it for an engine
// behind a proxy that caps connections. Measured figures: docs/capacity.md.
//
// Every answer of an engine is read under a bound (bounds.go), and the
// reads of a cycle give up ReplyMargin before its deadline: a hostile or
// broken engine gets a clear error, never the worker's memory or the
// cycle's whole timeout.
//
// A container restart resets its counters; CPUPercent then returns 0 and
// the sample says CPUKnown=false, and the next cycle is exact again.
package engine
