// Package engine is the service's access to Docker engines ("environments"):
// connecting to an endpoint, reading container stats, and the arithmetic
// that turns them into CPU % and memory figures for one container
// (SampleFromStats, CPUPercent, MemoryUsed) and for the whole environment
// (HostTotals). The formulas are the docker CLI's (see shared/REFERENCE.md).
// The engine's event stream is decoded and filtered here too (events*.go).
//
// # Reading stats: one-shot with kept counters
//
// The stats endpoint has two single-record modes. stream=false makes the
// daemon drop one sample of its 1 s stats collector and return the next one
// with precpu_stats filled, so CPU % can be computed from the record alone.
// one-shot returns one sample with precpu_stats empty, so the previous
// counters must come from the caller. Collector.Collect therefore reads a
// container in one-shot mode when the caller passes its counters from the
// previous cycle (the activity keeps them in Postgres, as ContainerSample.
// Counters), and falls back to stream=false only for a container seen for
// the first time. A 30 s cycle also gives a CPU % averaged over the whole
// interval instead of over the one second stream=false looks at.
//
// BenchmarkStats measured it on this project's reference engine, Debian's
// dockerd 20.10.24 (API 1.41, cgroup v1, overlay2), 2 CPUs, 4 idle
// containers, Parallelism 8, go test -bench BenchmarkStats -benchtime=10x.
// "idle daemon" is the start of a monitoring cycle (the daemon's collector
// asleep); "ticking daemon" is back-to-back reads, as when another client
// streams stats from the same engine:
//
//	                               stream=false   one-shot
//	one container, idle daemon        1.07 s       2.6 ms
//	Collect (4), idle daemon          2.01 s       0.97 s
//	one container, ticking daemon     2.01 s       1.00 s
//	Collect (4), ticking daemon       2.02 s       1.01 s
//
// On 20.10 a one-shot read still goes through the daemon's collector: it is
// answered at once only by a collector that is asleep, and the reads of a
// parallel Collect that miss its first pass wait for the next one, 1 s
// later. Even so a cycle costs half as long as with stream=false, whose
// second sample always costs one more collector pass. According to
// moby/moby#46448 (merged for Docker 25), newer engines answer one-shot reads
// directly, without the collector, so there one-shot costs milliseconds
// while stream=false stays at 1–2 s (not measured here: no such engine).
//
// Parallelism bounds the concurrent reads (default 8). On an engine that
// routes reads through its collector the cost is waiting, not work: a cycle
// of n containers takes about n/Parallelism collector passes in one-shot
// mode and twice that with stream=false (100 containers: about 13 s against
// 25 s at the default). Raise Parallelism for large engines.
//
// A container restart resets its counters; CPUPercent then returns 0 and
// the sample says CPUKnown=false, and the next cycle is exact again.
package engine
