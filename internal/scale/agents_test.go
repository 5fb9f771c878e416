package scale

import (
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
