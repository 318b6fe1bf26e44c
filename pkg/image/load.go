package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// MaxManifestBytes bounds an archive's manifest.json.
const MaxManifestBytes = 1 << 20

// ArchiveImages checks that the file at path is an image archive as
// `docker save` (or `podman save`) writes it, a tar, gzipped or not,
// holding a manifest.json, and returns the image names it gives.
func ArchiveImages(path string) ([]string, error) {
	bad := func(format string, args ...any) ([]string, error) {
		return nil, fmt.Errorf("%w: %s: %s: want an image archive from `docker save` (the release's sablebox-sandbox-image-*.tar)",
			sandbox.ErrInvalidSpec, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidSpec, err)
	}
	defer f.Close()
	r, err := maybeGunzip(f)
	if err != nil {
		return bad("%v", err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return bad("no manifest.json in it")
		}
		if err != nil {
			return bad("not a tar archive (%v)", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var manifest []struct{ RepoTags []string }
		if err := json.NewDecoder(io.LimitReader(tr, MaxManifestBytes)).Decode(&manifest); err != nil {
			return bad("its manifest.json: %v", err)
		}
		var names []string
		for _, m := range manifest {
			names = append(names, m.RepoTags...)
		}
		if len(names) == 0 {
			return bad("its manifest names no image")
		}
		return names, nil
	}
}

// maybeGunzip reads r through gzip when it starts as gzip does.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil {
		return nil, fmt.Errorf("too short (%v)", err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// Load checks the image archive at path and loads it into e, returning
// the names of the images it held.
func Load(ctx context.Context, e Engine, path string, p Progress) ([]string, error) {
	names, err := ArchiveImages(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrInvalidSpec, err)
	}
	defer f.Close()
	if err := e.LoadImage(ctx, f, p); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return names, nil
}
