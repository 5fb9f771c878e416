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
// On this project's reference engine, Debian's dockerd 20.10.24 (API 1.41,
// cgroup v1, overlay2, 2 CPUs), every read goes through the daemon's stats
// collector, whatever the mode. The collector sleeps while nobody reads;
// the first read wakes it, and it makes a pass over the containers being
// read at that instant, publishing one sample of each, then sleeps 1 s and
// makes the next pass over the containers read by then, and so on. A
// one-shot read returns at the first pass that includes its container;
// stream=false at the second. So the reads that miss the first pass (all but
// the first few of a parallel cycle) cost one sleep plus one pass in
// one-shot mode and two of each with stream=false, and reads that cannot
// start until others end (a parallelism cap below the container count) wait
// for one more pass per wave. According to moby/moby#46448 (merged for
// Docker 25), newer engines answer one-shot reads directly, without the
// collector (not measured here: no such engine).
//
// BenchmarkStats, one container's read, go test -bench BenchmarkStats
// -benchtime=5x; "idle daemon" is the start of a monitoring cycle (the
// collector asleep), "ticking daemon" back-to-back reads, as when another
// client streams stats from the same engine:
//
//	                               stream=false   one-shot
//	one container, idle daemon        1.01 s       4.2 ms
//	one container, ticking daemon     2.01 s       1.00 s
//
// # Parallelism: every container at once
//
// Hence Collect reads all the containers at once: the whole cycle then costs
// one sleep and one pass, about what a single one-shot read of a busy engine
// costs. BenchmarkCycle, 50 idle containers, medians of go test -bench
// BenchmarkCycle, two runs (-benchtime=5x) where every op started from an
// idle daemon, on a host that other builds kept busy (load 2–10), and one
// (10x) where another client kept the collector ticking throughout:
//
//	                                   idle daemon   idle daemon   ticking
//	one-shot-all (list, all one-shot)     1.18 s        1.49 s      0.68 s
//	seed (list, all stream=false)         2.33 s        2.93 s      1.83 s
//	collect (Collect, prev. counters)     1.17 s        1.33 s      0.66 s
//	collect / one-shot-all                0.99          0.89        0.97
//	collect / seed                        0.50          0.45        0.36
//
// The same 50 read 16 at a time (the old configured default) took 4.45 s, and
// 8 at a time with stream=false 14.8 s (shared/REFERENCE.md). Collect is the
// floor: /info runs alongside the reads, and the list is one quick request.
// Against stream=false it cannot do much better than half, since the latter
// costs exactly one more sleep and pass.
//
// DefaultParallelism is 128, a cap rather than a pace. A read in flight costs
// one HTTP connection (a file descriptor and a goroutine on each side) held
// for about a second, and one subscriber in the daemon, whose work per pass
// is one cgroup read per container however many readers wait for it; so the
// cap bounds connections, not the engine's work. 128 reads an engine of up
// to 128 running containers in one pass, while one environment never holds
// more than 128 connections to its engine (or to a socket proxy or SSH
// tunnel in front of it), and a worker collecting several environments at
// once stays far from the open-file limit (Go raises the soft limit to the
// hard one). Connect's transport puts no limit on connections per host.
// Above the cap the reads go in waves (a read starts when one ends, that is
// at the next pass), so N containers cost about ⌈N/128⌉ sleeps and passes:
// 500 containers, by the pass times above, about 6–8 s (not measured),
// within the 15 s a cycle may take. Set a lower Parallelism
// (WINDFLOW_STATS_PARALLELISM) for an engine behind a proxy that caps
// connections.
//
// For a steady load the CPU % over the interval between cycles matches what
// docker stats shows within 2 points (TestCollectCPUMatchesDockerStats checks
// it against the docker CLI).
//
// A container restart resets its counters; CPUPercent then returns 0 and
// the sample says CPUKnown=false, and the next cycle is exact again.
package engine
