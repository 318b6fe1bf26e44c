package kubernetes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Setup, through a kubeconfig file, makes a namespace ready and Check
// takes it; a second Setup changes nothing; a namespace that does not
// enforce restricted, or a NetworkPolicy that lets traffic out, is
// refused as a policy.
func TestSetupAndCheck(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "`+s.config.Host+`", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "`+s.config.BearerToken+`"}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Config(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := k8s.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := "sablebox-setup-" + randomHex()[:8]
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	done, err := Setup(ctx, c, ns)
	if err != nil || len(done) != 5 {
		t.Fatalf("setup: %v: %q", err, done)
	}
	if done, err := Setup(ctx, c, ns); err != nil || len(done) != 0 {
		t.Errorf("a second setup: %v: %q", err, done)
	}

	open := DenyAll(ns)
	open.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}} // allow all egress
	if _, err := c.NetworkingV1().NetworkPolicies(ns).Update(ctx, open, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, c, ns); !errors.Is(err, sandbox.ErrPolicy) || !strings.Contains(err.Error(), "lets traffic through") {
		t.Errorf("an open NetworkPolicy: %v", err)
	}

	baseline := "sablebox-baseline-" + randomHex()[:8]
	nsObj := Namespace(baseline)
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	if _, err := c.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), baseline, metav1.DeleteOptions{}) })
	if _, err := Setup(ctx, c, baseline); !errors.Is(err, sandbox.ErrPolicy) || !strings.Contains(err.Error(), `enforces Pod Security "baseline"`) {
		t.Errorf("a baseline namespace: %v", err)
	}
	if _, err := Config(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, sandbox.ErrUnavailable) {
		t.Errorf("a missing kubeconfig: %v", err)
	}
}
