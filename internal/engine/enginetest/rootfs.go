package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/moby/moby/client"
)

// busyboxApplets are the commands linked to busybox in the test image.
var busyboxApplets = []string{
	"sh", "sleep", "cat", "echo", "ls", "true", "false", "yes", "head",
	"dd", "env", "ps", "kill", "wget", "nc", "top", "id", "mkdir", "rm",
}

// importImage imports rootfs (a tar) as ImageRef and waits for the daemon
// to finish, returning the error the progress stream reports, if any.
func importImage(ctx context.Context, cli *client.Client, rootfs []byte) error {
	res, err := cli.ImageImport(ctx,
		client.ImageImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"},
		ImageRef,
		client.ImageImportOptions{Changes: []string{"ENV PATH=/bin", `CMD ["sh"]`}})
	if err != nil {
		return err
	}
	defer func() { _ = res.Close() }()
	dec := json.NewDecoder(res)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("read import progress: %w", err)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
	if _, err := cli.ImageInspect(ctx, ImageRef); err != nil {
		return fmt.Errorf("image missing after import: %w", err)
	}
	return nil
}

// busyboxRootfs returns a tar holding /bin/busybox, a symlink per applet and
// the usual empty directories.
func busyboxRootfs() ([]byte, error) {
	path := "/bin/busybox"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("busybox"); err != nil {
			return nil, fmt.Errorf("busybox not found (apt-get install busybox-static): %w", err)
		}
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"proc/", 0o555}, {"sys/", 0o555}, {"dev/", 0o755}, {"root/", 0o700}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: now}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, a := range busyboxApplets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
