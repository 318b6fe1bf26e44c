// Package process is the sandbox for hosts with no container engine: the
// tool runs as a child process, confined by every layer the kernel here
// allows, in this order:
//
//   - a new session and process group, a clean environment;
//   - new user, mount, pid, network, ipc and uts namespaces: the tool sees
//     a new root built from read-only binds of /usr and /etc, tmpfs /tmp
//     and home (noexec, size-limited), the workspace (read-only), the
//     output dir (noexec) and the tool; its network has only lo;
//   - a cgroup with the memory and pids limits, where one can be made;
//   - rlimits (CPU time, address space, processes, core dumps, open
//     files, file size), uid 1000 when sablebox runs as root,
//     no_new_privs, no capabilities;
//   - Landlock: read only what the tool needs, write only its own dirs;
//   - last, as close to execve as possible, the seccomp profile (built
//     with libseccomp behind the "seccomp" build tag; without it the
//     layer is missing and a run that requires it is refused).
//
// Two stages run between sablebox and the tool (package stage): stage 1
// is pid 1 of the new pid namespace, builds the root and reaps; stage 2
// applies the in-process restrictions and execs the tool, which so is
// never pid 1 (whose signals the kernel treats apart). They run from the
// helper binary that make embeds (cmd/sablebox-stage), out of a sealed
// memory file; a build without it executes itself instead, which is why
// cmd/sablebox calls MaybeInit first thing in main.
//
// A layer the host cannot give is named in Result.Degraded and by
// Describe; Options.Require lists layers a run must have, and a run
// missing one is refused.
package process
