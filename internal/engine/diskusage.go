package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// DiskTotals is an engine's disk use by kind, in bytes, as the docker CLI
// and the moby client total it: image layers counted once, containers'
// writable layers, volumes whose size is known, the unshared build cache.
type DiskTotals struct {
	Images, Containers, Volumes, BuildCache int64
}

// DiskUsage reads GET /system/df, bounded to MaxDiskUsageBody, and totals
// it decoding one element at a time: the answer of an engine before API 1.52 lists
// every image, container, volume and build-cache record, and of a newer
// one only the totals; both shapes are read.
func DiskUsage(ctx context.Context, cli *client.Client) (DiskTotals, error) {
	const op, what = "disk usage", "a disk usage body"
	b, err := readBounded(ctx, cli, op, "/system/df", MaxDiskUsageBody, what)
	if err != nil {
		return DiskTotals{}, err
	}
	t, err := decodeDiskUsage(bytes.NewReader(b))
	if err != nil {
		return DiskTotals{}, engineError(op, decodeError(what, err))
	}
	return t, nil
}

// decodeDiskUsage totals a /system/df body of either shape.
func decodeDiskUsage(r io.Reader) (DiskTotals, error) {
	var t DiskTotals
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return t, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return t, err
		}
		key, _ := tok.(string)
		if err := decodeDiskField(dec, key, &t); err != nil {
			return t, fmt.Errorf("%s: %w", key, err)
		}
	}
	_, err := dec.Token() // '}'
	return t, err
}

// decodeDiskField decodes the value of one top-level /system/df field into t.
func decodeDiskField(dec *json.Decoder, key string, t *DiskTotals) error {
	switch key {
	case "ImageUsage": // API 1.52+: the totals only
		return decodeTotal(dec, &t.Images)
	case "ContainerUsage":
		return decodeTotal(dec, &t.Containers)
	case "VolumeUsage":
		return decodeTotal(dec, &t.Volumes)
	case "BuildCacheUsage":
		return decodeTotal(dec, &t.BuildCache)
	case "LayersSize":
		return dec.Decode(&t.Images)
	case "Containers":
		return eachElement(dec, func(dec *json.Decoder) error {
			var c struct{ SizeRw int64 }
			err := dec.Decode(&c)
			t.Containers += c.SizeRw
			return err
		})
	case "Volumes":
		return eachElement(dec, func(dec *json.Decoder) error {
			var v struct{ UsageData *struct{ Size int64 } }
			err := dec.Decode(&v)
			if v.UsageData != nil && v.UsageData.Size > 0 {
				t.Volumes += v.UsageData.Size
			}
			return err
		})
	case "BuildCache":
		return eachElement(dec, func(dec *json.Decoder) error {
			var b struct {
				Size   int64
				Shared bool
			}
			err := dec.Decode(&b)
			if !b.Shared {
				t.BuildCache += b.Size
			}
			return err
		})
	case "Images": // counted by LayersSize
		return eachElement(dec, func(dec *json.Decoder) error { return dec.Decode(&json.RawMessage{}) })
	default:
		return dec.Decode(&json.RawMessage{})
	}
}

// decodeTotal decodes {"TotalSize": n, ...} into total.
func decodeTotal(dec *json.Decoder, total *int64) error {
	var v struct{ TotalSize int64 }
	err := dec.Decode(&v)
	*total = v.TotalSize
	return err
}

// eachElement calls fn on each element of the array (or null) that comes
// next; any other value is an errShape.
func eachElement(dec *json.Decoder, fn func(*json.Decoder) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			if err := fn(dec); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	case nil:
		return nil
	default:
		return fmt.Errorf("%w: want an array, got %v", errShape, tok)
	}
}
