package process

import _ "embed"

// defaultBPF is the default profile compiled for amd64 (see precompiled).
//
//go:embed default_amd64.bpf
var defaultBPF []byte
