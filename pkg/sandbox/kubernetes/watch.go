package kubernetes

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// podWatch follows one Pod through the API server's watch, so that the
// run's steps wait on its status without asking again and again.
type podWatch struct {
	mu      sync.Mutex
	pod     *corev1.Pod
	gone    bool
	changed chan struct{} // closed and replaced on every change
}

func newPodWatch() *podWatch { return &podWatch{changed: make(chan struct{})} }

// current is the Pod as last seen, and whether it is gone.
func (w *podWatch) current() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

func (w *podWatch) set(pod *corev1.Pod, gone bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pod != nil {
		w.pod = pod
	}
	w.gone = w.gone || gone
	close(w.changed)
	w.changed = make(chan struct{})
}

// until calls cond with the Pod as it changes until cond is done or
// fails, or ctx ends.
func (w *podWatch) until(ctx context.Context, cond func(pod *corev1.Pod, gone bool) (bool, error)) error {
	for {
		w.mu.Lock()
		pod, gone, changed := w.pod, w.gone, w.changed
		w.mu.Unlock()
		if pod != nil || gone {
			if pod == nil {
				pod = &corev1.Pod{}
			}
			if done, err := cond(pod, gone); done || err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run follows the Pod from created until it is deleted or ctx ends,
// watching again from where it was when a watch ends, and reading the
// Pod afresh when that point is too old.
func (w *podWatch) run(ctx context.Context, b *Backend, created *corev1.Pod) {
	w.set(created, false)
	pods := b.client.CoreV1().Pods(b.namespace)
	rv := created.ResourceVersion
	selector := fields.OneTermEqualSelector("metadata.name", created.Name).String()
	for ctx.Err() == nil {
		if rv == "" {
			pod, err := pods.Get(ctx, created.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				w.set(nil, true)
				return
			case err != nil:
				pause(ctx)
				continue
			}
			w.set(pod, false)
			rv = pod.ResourceVersion
		}
		wi, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: rv})
		if err != nil {
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				rv = ""
			}
			pause(ctx)
			continue
		}
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				if pod, ok := ev.Object.(*corev1.Pod); ok {
					rv = pod.ResourceVersion
					w.set(pod, false)
				}
			case watch.Deleted:
				wi.Stop()
				w.set(nil, true)
				return
			case watch.Error:
				rv = "" // the point watched from is gone: read the Pod afresh
			}
		}
		wi.Stop()
	}
}

func pause(ctx context.Context) {
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
}
