// Package seccomp models syscall filters in Docker's JSON profile format and
// holds sablebox's default profile as a Go table. `make profiles` writes the
// table to profiles/default.json; a test fails when that file is stale.
//
// The default is an allow-list: anything not listed fails with EPERM.
// It is built for Python and shell tools with no network and no
// privileges, and leaves out whole families that such tools never need and
// that widen the kernel's attack surface (namespaces, mounts, ptrace, BPF,
// io_uring, keyrings, kernel modules, memfd execution, raw sockets).
package seccomp
