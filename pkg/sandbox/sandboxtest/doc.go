// Package sandboxtest is the conformance suite every sandbox.Backend runs.
//
// It is a table of behaviours, each a real run of a real tool: identity,
// capabilities, no_new_privs, seccomp, network, filesystem protections,
// limits (fork bomb, memory bomb, timeout), cancellation, output caps,
// stdin, exit codes and cleanup. A backend wires it in with a few lines:
//
//	func TestConformance(t *testing.T) {
//		b := newBackendOrSkip(t)
//		sandboxtest.Run(t, sandboxtest.Config{Backend: b, Image: img, Leftovers: leftovers})
//	}
//
// A behaviour that genuinely cannot hold on a backend is named in
// Config.Exceptions with the reason, and reported as skipped with it.
package sandboxtest
