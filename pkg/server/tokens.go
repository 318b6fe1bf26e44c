package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docker/go-units"
	"gopkg.in/yaml.v3"
)

// tokensFile is the operator's file of tokens:
//
//	tokens:
//	  - name: ci
//	    sha256: 5e88…   # `sablebox token new` prints it; the secret is never stored
//	    rate: 5          # runs a second (default 1)
//	    burst: 10        # runs at once above the rate (default 10)
//	    backends: [docker]  # the runtimes it may use (default: any)
//	    ceiling: {timeout: 60s, memory: 512m, cpus: 1, pids: 64, output-limit: 4m}
type tokensFile struct {
	Tokens []struct {
		Name     string   `yaml:"name"`
		SHA256   string   `yaml:"sha256"`
		Rate     float64  `yaml:"rate"`
		Burst    int      `yaml:"burst"`
		Backends []string `yaml:"backends"`
		Ceiling  struct {
			Timeout     string  `yaml:"timeout"`
			Memory      string  `yaml:"memory"`
			CPUs        float64 `yaml:"cpus"`
			Pids        int64   `yaml:"pids"`
			OutputLimit string  `yaml:"output-limit"`
		} `yaml:"ceiling"`
	} `yaml:"tokens"`
}

// LoadTokens reads the tokens file at path. Every error names the file
// and the token at fault.
func LoadTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var f tokensFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tokens file %s: %v", path, err)
	}
	var out []Token
	for i, t := range f.Tokens {
		tok := Token{Name: t.Name, SHA256: t.SHA256, Policy: Policy{Rate: t.Rate, Burst: t.Burst, Backends: t.Backends}}
		bad := func(what string, err error) error {
			return fmt.Errorf("tokens file %s: tokens[%d] (%s): ceiling %s: %v", path, i, t.Name, what, err)
		}
		c := &tok.Policy.Ceiling
		if t.Ceiling.Timeout != "" {
			if c.Timeout, err = time.ParseDuration(t.Ceiling.Timeout); err != nil || c.Timeout <= 0 {
				return nil, bad("timeout", fmt.Errorf("%q: want a positive duration such as 60s", t.Ceiling.Timeout))
			}
		}
		for _, sz := range []struct {
			what, text string
			into       *int64
		}{{"memory", t.Ceiling.Memory, &c.MemoryBytes}, {"output-limit", t.Ceiling.OutputLimit, &c.OutputBytes}} {
			if sz.text == "" {
				continue
			}
			if *sz.into, err = units.RAMInBytes(sz.text); err != nil || *sz.into <= 0 {
				return nil, bad(sz.what, fmt.Errorf("%q: want a size such as 512m", sz.text))
			}
		}
		c.CPUs, c.Pids = t.Ceiling.CPUs, t.Ceiling.Pids
		out = append(out, tok)
	}
	if _, err := newTokenTable(out); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return out, nil
}
