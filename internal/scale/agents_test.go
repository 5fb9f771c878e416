package scale

import (
	"context"
	"log/slog"
	"os"
	"testing"
)

func TestParseOpenFilesLimit(t *testing.T) {
	limits := []byte("Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max processes             63704                63704                processes \n" +
		"Max open files            20000                524288               files     \n")
	if got := ParseOpenFilesLimit(limits); got != 20000 {
		t.Errorf("ParseOpenFilesLimit = %d, want the soft limit 20000", got)
	}
	if got := ParseOpenFilesLimit([]byte("Max open files            unlimited            unlimited            files\n")); got != 0 {
		t.Errorf("unlimited: %d, want 0", got)
	}
	if got := ParseOpenFilesLimit(nil); got != 0 {
		t.Errorf("empty: %d, want 0", got)
	}
}

func TestOpenFilesOfThisProcess(t *testing.T) {
	open, limit := openFiles(os.Getpid())
	if open < 3 || limit < open {
		t.Errorf("openFiles(self) = %d open, limit %d; want stdin/out/err at least, under the limit", open, limit)
	}
}

func TestAgentLogCounts(t *testing.T) {
	l := &agentLog{}
	log := slog.New(l)
	log.Info("agent starting")
	log.Info("agent connected", "server", "http://127.0.0.1:1")
	log.Warn("agent disconnected", "err", "session ended: EOF")
	log.Error("agent connection refused", "err", "token refused")
	log.Info("agent connected")
	if c, d, r := l.connects.Load(), l.disconnects.Load(), l.refused.Load(); c != 2 || d != 1 || r != 1 {
		t.Errorf("connects %d, disconnects %d, refused %d; want 2, 1, 1", c, d, r)
	}
	if got := l.lastWarning(); got != "agent connection refused: token refused" {
		t.Errorf("last warning %q", got)
	}
	if l.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("debug records are counted for nothing: want them off")
	}
}
