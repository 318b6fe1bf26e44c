// Package metrics holds the Prometheus metrics of sablebox's runs. They
// are registered on a registry the caller gives (never the default one);
// the runner and the backends report to the same Runs.
package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Runs are the metrics of runs. A nil *Runs reports nothing, so library
// code can call it unconditionally.
type Runs struct {
	runs       *prometheus.CounterVec
	failures   *prometheus.CounterVec
	toolTime   *prometheus.HistogramVec
	cpuTime    *prometheus.HistogramVec
	nearLimit  *prometheus.CounterVec
	reaped     *prometheus.CounterVec
	prepare    *prometheus.HistogramVec
	cleanup    *prometheus.CounterVec
	passedOver *prometheus.CounterVec
	poolSize   *prometheus.GaugeVec
	poolHits   *prometheus.CounterVec
	poolMisses *prometheus.CounterVec
	poolRefill *prometheus.HistogramVec
}

// New makes the metrics and registers them on reg (none when reg is nil).
// Metrics another Runs registered on reg already are shared, so several
// runners may report to one registry.
func New(reg prometheus.Registerer) (*Runs, error) {
	var errs []error
	m := &Runs{
		runs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_tool_executions_total",
			Help: "Tool runs ended, by status (ok, failed, timeout, oom, killed, blocked, error) and backend.",
		}, []string{"status", "backend"}), &errs),
		failures: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_tool_failures_total",
			Help: "Tool runs that did not end ok, by error type (failed, timeout, oom, killed, blocked, error) and backend.",
		}, []string{"error_type", "backend"}), &errs),
		cpuTime: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sablebox_tool_cpu_seconds",
			Help:    "CPU time a tool run used, by backend, where the backend can tell.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"backend"}), &errs),
		nearLimit: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_tool_cpu_near_limit_total",
			Help: "Tool runs that used 90% or more of the CPU time their limits allow (timeout × cpus), by backend: a CPU bomb, when it repeats.",
		}, []string{"backend"}), &errs),
		reaped: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_orphans_reaped_total",
			Help: "Leftovers of dead runs (containers, volumes, run dirs, cgroups) a sweep removed, by backend.",
		}, []string{"backend"}), &errs),
		toolTime: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sablebox_tool_duration_seconds",
			Help:    "Wall time of the tool, from its start to its end, by backend.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"backend"}), &errs),
		prepare: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sablebox_sandbox_prepare_duration_seconds",
			Help:    "Time to prepare a sandbox (create a container, lay out a process sandbox), by backend.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"backend"}), &errs),
		cleanup: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_cleanup_failures_total",
			Help: "Sandboxes that could not be removed after their run (the next sweep removes them), by backend.",
		}, []string{"backend"}), &errs),
		passedOver: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_backend_passed_over_total",
			Help: "Times automatic selection passed over a backend that could not run tools, by backend.",
		}, []string{"backend"}), &errs),
		poolSize: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sablebox_pool_size",
			Help: "Warm sandboxes ready in the pool, by backend.",
		}, []string{"backend"}), &errs),
		poolHits: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_pool_hits_total",
			Help: "Runs handed to a warm sandbox of the pool, by backend.",
		}, []string{"backend"}), &errs),
		poolMisses: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sablebox_pool_misses_total",
			Help: "Runs of a pooled backend that started cold, by backend and reason (empty, stale, closed, image, limits, seccomp, output, workspace).",
		}, []string{"backend", "reason"}), &errs),
		poolRefill: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sablebox_pool_refill_duration_seconds",
			Help:    "Time to start a warm sandbox for the pool, by backend.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend"}), &errs),
	}
	return m, errors.Join(errs...)
}

// register registers c on reg (nothing when reg is nil) and returns it,
// or the collector registered there before under its name; a failure is
// added to errs.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errs *[]error) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		*errs = append(*errs, fmt.Errorf("register metrics: %w", err))
	}
	return c
}

// NearLimit is the share of its CPU allowance from which a run counts as
// near its limit.
const NearLimit = 0.9

// Finished counts a run that ended with status on backend ("" when none
// was picked), whose tool ran for d (0: it never started) and used cpu
// (0: unknown) of the allowance its limits gave (timeout × cpus).
func (m *Runs) Finished(backend, status string, d, cpu, allowance time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(status, backend).Inc()
	if status != "ok" {
		m.failures.WithLabelValues(status, backend).Inc()
	}
	if d > 0 {
		m.toolTime.WithLabelValues(backend).Observe(d.Seconds())
	}
	if cpu > 0 {
		m.cpuTime.WithLabelValues(backend).Observe(cpu.Seconds())
		if allowance > 0 && cpu.Seconds() >= NearLimit*allowance.Seconds() {
			m.nearLimit.WithLabelValues(backend).Inc()
		}
	}
}

// Reaped counts n leftovers of dead runs a sweep of backend removed.
func (m *Runs) Reaped(backend string, n int) {
	if m != nil && n > 0 {
		m.reaped.WithLabelValues(backend).Add(float64(n))
	}
}

// Prepared observes the time backend took to prepare a sandbox.
func (m *Runs) Prepared(backend string, d time.Duration) {
	if m != nil {
		m.prepare.WithLabelValues(backend).Observe(d.Seconds())
	}
}

// CleanupFailed counts a sandbox of backend left behind after its run.
func (m *Runs) CleanupFailed(backend string) {
	if m != nil {
		m.cleanup.WithLabelValues(backend).Inc()
	}
}

// PassedOver counts a backend automatic selection could not use.
func (m *Runs) PassedOver(backend string) {
	if m != nil {
		m.passedOver.WithLabelValues(backend).Inc()
	}
}

// PoolSize sets the number of warm sandboxes of backend's pools ready.
func (m *Runs) PoolSize(backend string, n int) {
	if m != nil {
		m.poolSize.WithLabelValues(backend).Set(float64(n))
	}
}

// PoolHit counts a run handed to a warm sandbox of backend.
func (m *Runs) PoolHit(backend string) {
	if m != nil {
		m.poolHits.WithLabelValues(backend).Inc()
	}
}

// PoolMiss counts a run of backend's pool that started cold, and why.
func (m *Runs) PoolMiss(backend, reason string) {
	if m != nil {
		m.poolMisses.WithLabelValues(backend, reason).Inc()
	}
}

// PoolRefilled observes the time backend took to start a warm sandbox.
func (m *Runs) PoolRefilled(backend string, d time.Duration) {
	if m != nil {
		m.poolRefill.WithLabelValues(backend).Observe(d.Seconds())
	}
}

// PoolMisses is the counter of backend's cold starts for reason, for
// tests to read.
func (m *Runs) PoolMisses(backend, reason string) prometheus.Counter {
	return m.poolMisses.WithLabelValues(backend, reason)
}
