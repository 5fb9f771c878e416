package fakeengine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// mustJSON marshals a value built here; it cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(b)+1) // exact size: thousands of engines keep these
	copy(out, b)
	out[len(b)] = '\n'
	return out
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

const systemTimeMark = "\x00SYSTEMTIME\x00"

// buildStatic precomputes the bodies of /containers/json, /version, /info
// (around SystemTime) and /system/df.
func (e *Engine) buildStatic() {
	created := e.f.start.Add(-3 * time.Hour).Unix()

	list := make([]map[string]any, 0, len(e.containers))
	images := map[string]bool{}
	for _, c := range e.containers {
		images[c.image] = true
		list = append(list, map[string]any{
			"Id":         c.id,
			"Names":      []string{"/" + c.name},
			"Image":      c.image,
			"ImageID":    imageID(c.image),
			"Command":    "/entrypoint.sh",
			"Created":    created,
			"Ports":      []any{},
			"Labels":     c.labels,
			"State":      "running",
			"Status":     "Up 3 hours",
			"HostConfig": map[string]any{"NetworkMode": "bridge"},
			"NetworkSettings": map[string]any{"Networks": map[string]any{"bridge": map[string]any{
				"NetworkID": "b1d9c4f3a0e24e7f9f4d1c2b3a4e5f60718293a4b5c6d7e8f90112233445566",
				"IPAddress": "172.17.0.2", "IPPrefixLen": 16, "Gateway": "172.17.0.1",
			}}},
			"Mounts": []any{},
		})
	}
	e.listJSON = mustJSON(list)

	e.versionJSON = versionJSON()
	e.buildInfo(len(images))
	e.dfJSON = e.buildDf(created)
}

// versionJSON is the /version body, the same for every engine.
var versionJSON = sync.OnceValue(func() []byte {
	return mustJSON(map[string]any{
		"Platform": map[string]any{"Name": ""},
		"Components": []any{map[string]any{
			"Name": "Engine", "Version": "20.10.24",
			"Details": map[string]any{
				"ApiVersion": "1.41", "Arch": "amd64", "BuildTime": "2023-05-18T08:38:34.000000000+00:00",
				"Experimental": "false", "GitCommit": "5d6db84", "GoVersion": "go1.19.8",
				"KernelVersion": "6.1.0-28-amd64", "MinAPIVersion": "1.12", "Os": "linux",
			},
		}},
		"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12",
		"GitCommit": "5d6db84", "GoVersion": "go1.19.8", "Os": "linux", "Arch": "amd64",
		"KernelVersion": "6.1.0-28-amd64", "BuildTime": "2023-05-18T08:38:34.000000000+00:00",
	})
})

// buildInfo precomputes the /info body around its SystemTime value.
func (e *Engine) buildInfo(images int) {
	o := e.f.opts
	info := mustJSON(map[string]any{
		"ID":                 fmt.Sprintf("FAKE:%04d:%s", e.idx, e.containersID()),
		"Containers":         len(e.containers),
		"ContainersRunning":  len(e.containers),
		"ContainersPaused":   0,
		"ContainersStopped":  0,
		"Images":             images,
		"Driver":             "overlay2",
		"DriverStatus":       [][2]string{{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}, {"Native Overlay Diff", "true"}, {"userxattr", "false"}},
		"Plugins":            map[string]any{"Volume": []string{"local"}, "Network": []string{"bridge", "host", "ipvlan", "macvlan", "null", "overlay"}, "Log": []string{"json-file", "local"}},
		"MemoryLimit":        true,
		"SwapLimit":          true,
		"CpuCfsPeriod":       true,
		"CpuCfsQuota":        true,
		"CPUShares":          true,
		"CPUSet":             true,
		"PidsLimit":          true,
		"IPv4Forwarding":     true,
		"Debug":              false,
		"NFd":                30,
		"OomKillDisable":     false,
		"NGoroutines":        40,
		"SystemTime":         systemTimeMark,
		"LoggingDriver":      "json-file",
		"CgroupDriver":       "systemd",
		"CgroupVersion":      "2",
		"NEventsListener":    0,
		"KernelVersion":      "6.1.0-28-amd64",
		"OperatingSystem":    "Debian GNU/Linux 12 (bookworm)",
		"OSVersion":          "12",
		"OSType":             "linux",
		"Architecture":       "x86_64",
		"IndexServerAddress": "https://index.docker.io/v1/",
		"NCPU":               o.NCPU,
		"MemTotal":           o.MemTotal,
		"DockerRootDir":      "/var/lib/docker",
		"Name":               fmt.Sprintf("fake-engine-%d", e.idx),
		"Labels":             []string{},
		"ExperimentalBuild":  false,
		"ServerVersion":      "20.10.24",
		"DefaultRuntime":     "runc",
		"LiveRestoreEnabled": false,
		"Isolation":          "",
		"SecurityOptions":    []string{"name=seccomp,profile=default", "name=cgroupns"},
	})
	mark, _ := json.Marshal(systemTimeMark)
	i := bytes.Index(info, mark)
	e.infoHead = bytes.Clone(append(info[:i:i], '"'))
	e.infoTail = append([]byte{'"'}, info[i+len(mark):]...)
}

// containersID is a short stable tag of the engine's first container.
func (e *Engine) containersID() string {
	if len(e.containers) == 0 {
		return "EMPTY"
	}
	return e.containers[0].id[:12]
}

func imageID(image string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(image); i++ {
		h = (h ^ uint64(image[i])) * 1099511628211
	}
	return fmt.Sprintf("sha256:%016x%016x%016x%016x", h, h*31, h*37, h*41)
}

// buildDf is the legacy (API < 1.52) /system/df body with the Disk* sizes.
func (e *Engine) buildDf(created int64) []byte {
	imgs := make([]map[string]any, 0, len(kinds))
	// Image sizes: their sum exceeds LayersSize, as shared layers count
	// once in LayersSize.
	sizes := [...]int64{187_000_000, 432_000_000, 138_000_000, 4_300_000, 152_000_000}
	for i, k := range kinds {
		n := 0
		for _, c := range e.containers {
			if c.image == k.image {
				n++
			}
		}
		imgs = append(imgs, map[string]any{
			"Id": imageID(k.image), "ParentId": "", "RepoTags": []string{k.image}, "RepoDigests": []string{},
			"Created": created, "Size": sizes[i] + 300_000_000, "SharedSize": 77_000_000, "VirtualSize": sizes[i] + 300_000_000,
			"Labels": map[string]string{}, "Containers": n,
		})
	}
	ctrs := make([]map[string]any, 0, len(e.containers))
	for _, c := range e.containers {
		ctrs = append(ctrs, map[string]any{
			"Id": c.id, "Names": []string{"/" + c.name}, "Image": c.image, "ImageID": imageID(c.image),
			"Command": "/entrypoint.sh", "Created": created, "Ports": []any{},
			"SizeRw": DiskContainerSizeRw, "SizeRootFs": DiskContainerSizeRw + 200_000_000,
			"Labels": c.labels, "State": "running", "Status": "Up 3 hours",
			"HostConfig": map[string]any{"NetworkMode": "bridge"},
			"Mounts":     []any{},
		})
	}
	vol := func(name string, size, refs int64) map[string]any {
		return map[string]any{
			"CreatedAt": time.Unix(created, 0).UTC().Format(time.RFC3339), "Driver": "local", "Labels": map[string]string{},
			"Mountpoint": "/var/lib/docker/volumes/" + name + "/_data", "Name": name, "Options": map[string]string{},
			"Scope": "local", "UsageData": map[string]int64{"Size": size, "RefCount": refs},
		}
	}
	cache := func(id string, size int64, shared, inUse bool) map[string]any {
		t := time.Unix(created, 0).UTC().Format(time.RFC3339Nano)
		return map[string]any{
			"ID": id, "Parent": "", "Parents": []string{}, "Type": "regular", "Description": "mount / from exec /bin/sh -c apt-get update",
			"InUse": inUse, "Shared": shared, "Size": size, "CreatedAt": t, "LastUsedAt": t, "UsageCount": 2,
		}
	}
	return mustJSON(map[string]any{
		"LayersSize": DiskLayersSize,
		"Images":     imgs,
		"Containers": ctrs,
		"Volumes": []any{
			vol("pgdata", 300<<20, 1),
			vol("cache", 30<<20, 0),
			vol("external", -1, 0),
		},
		"BuildCache": []any{
			cache("k2f0vbh6b0cz9q4rl6c8xq1lm", 64<<20, false, false),
			cache("p9x0a1b2c3d4e5f6g7h8i9j0k", 32<<20, false, true),
			cache("zz1y2x3w4v5u6t7s8r9q0p1o2", 48<<20, true, false),
		},
	})
}

// serveInfo answers /info with the current SystemTime.
func (e *Engine) serveInfo(w http.ResponseWriter) {
	b := getBuf()
	*b = append(*b, e.infoHead...)
	*b = time.Now().UTC().AppendFormat(*b, time.RFC3339Nano)
	*b = append(*b, e.infoTail...)
	writeJSON(w, http.StatusOK, *b)
	putBuf(b)
}

// precompute builds the static parts of the container's stats record.
func (c *fakeContainer) precompute() {
	var b []byte
	b = append(b, `,"pids_stats":{"current":`...)
	b = strconv.AppendInt(b, int64(3+len(c.name)%17), 10)
	b = append(b, `,"limit":4915},"blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"read","value":`...)
	c.head = bytes.Clone(b)

	inactiveAnon := uint64(0)
	used := c.memUsage - c.memInactive
	anon := used * 8 / 10
	activeFile := used - anon
	b = nil
	b = append(b, `,"memory_stats":{"usage":`...)
	b = strconv.AppendUint(b, c.memUsage, 10)
	b = append(b, `,"stats":{"active_anon":`...)
	b = strconv.AppendUint(b, anon, 10)
	b = append(b, `,"active_file":`...)
	b = strconv.AppendUint(b, activeFile, 10)
	b = append(b, `,"anon":`...)
	b = strconv.AppendUint(b, anon, 10)
	b = append(b, `,"anon_thp":0,"file":`...)
	b = strconv.AppendUint(b, activeFile+c.memInactive, 10)
	b = append(b, `,"file_dirty":0,"file_mapped":0,"file_writeback":0,"inactive_anon":`...)
	b = strconv.AppendUint(b, inactiveAnon, 10)
	b = append(b, `,"inactive_file":`...)
	b = strconv.AppendUint(b, c.memInactive, 10)
	b = append(b, `,"kernel_stack":16384,"pgactivate":0,"pgdeactivate":0,"pgfault":1000,"pglazyfree":0,"pglazyfreed":0,"pgmajfault":0,"pgrefill":0,"pgscan":0,"pgsteal":0,"shmem":0,"slab":65536,"slab_reclaimable":32768,"slab_unreclaimable":32768,"sock":0,"thp_collapse_alloc":0,"thp_fault_alloc":0,"unevictable":0,"workingset_activate":0,"workingset_nodereclaim":0,"workingset_refault":0},"limit":`...)
	b = strconv.AppendUint(b, c.memLimit, 10)
	b = append(b, `},"name":`...)
	b = appendJSONString(b, "/"+c.name)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, c.id)
	b = append(b, `,"networks":{"eth0":{"rx_bytes":`...)
	c.mem = bytes.Clone(b)
}
