// Package fakeengine is a fake Docker engine for scale tests: hundreds to a
// few thousand engines in one process, each on its own 127.0.0.1 listener,
// speaking enough of the Docker Engine HTTP API (as dockerd 20.10, API 1.41)
// that the real github.com/moby/moby/client and this project's
// internal/engine code work against it unchanged.
//
// What is modelled:
//
//   - GET/HEAD /_ping, GET /version, GET /info (NCPU, MemTotal, SystemTime,
//     DockerRootDir, Driver overlay2, container counts), with or without the
//     /v1.NN/ prefix, and dockerd's headers (Api-Version 1.41, Server
//     Docker/20.10.24, Ostype linux).
//   - GET /containers/json: a fixed set of running containers per engine
//     (Options.Containers), with deterministic IDs, names, images and
//     compose labels (Options.Seed).
//   - GET /containers/{id}/stats with stream=false, with or without
//     one-shot=true: the answer comes at the next tick of the daemon's stats
//     collector, which is one ticker shared by the whole fleet
//     (Options.StatsTick), as dockerd answers at its collector's next
//     publish. Counters are pure functions of the tick time, so a tick costs
//     O(1) whatever the number of containers: system_cpu_usage advances by
//     NCPU×1e9 ns per second of tick time, each container's total_usage at
//     its configured CPU %, so the docker CLI formula gives exactly
//     Expected().CPUPercent from any two samples (one-shot against the
//     caller's previous counters, or stream=false's precpu_stats). Memory is
//     the cgroup v2 shape (usage, limit, stats.inactive_file) and constant;
//     eth0 and blkio byte counters grow per tick. The container is found by
//     full ID, name or unique ID prefix; an unknown one answers 404 "No such
//     container". stream=true is served too (one record per tick, precpu
//     filled); stream=true with one-shot=true is a 400, as on dockerd 20.10.
//   - GET /events with since, until and filters: one 256-event ring per
//     engine for all types, since inclusive, until in the past closing after
//     the buffered matches, a future or absent until streaming live events
//     (each flushed at once) after them, up to until; with neither since nor
//     until nothing is replayed, as on dockerd; filters type, event (exact, or by
//     prefix when the list holds health_status, exec_create or exec_start,
//     as dockerd), container (ID, ID prefix or name), image, label, scope.
//     Events come from Engine.Emit and, with Options.EventEvery, from a
//     synthetic "docker restart" sequence (kill, die, stop, start, restart)
//     of a random container, checked at each shared tick. Engine.Restart
//     empties the ring and ends the live streams, as a daemon restart does.
//   - GET /system/df in the legacy (API < 1.52) shape with fixed sizes, see
//     Engine.ExpectedDisk.
//   - Anything else: 404 {"message":"page not found"}.
//
// StartHostile (hostile.go) is one such engine that answers one request
// with a hostile body instead (1 GiB, endless, a slow drip, malformed
// JSON, 100,000 containers): the fault suite's hostile engine.
//
// What is not modelled: container life cycle (the restart events change
// nothing: containers keep running and their counters keep growing), any
// write endpoint, exec, logs, TLS, unix sockets, API versions other than
// 1.41 in payload shapes, slow /system/df, dockerd's blocking of a lagging
// event subscriber (a subscriber whose 1024-event buffer is full loses
// events here), the one-tick extra delay of stream=false on a real daemon
// (here both read modes answer at the next tick), and clock skew.
//
// Cost: one ticker goroutine per fleet, one accept goroutine per engine,
// and net/http's goroutine per open connection; response bodies are
// precomputed or appended into pooled buffers.
package fakeengine
