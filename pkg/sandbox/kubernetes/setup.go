package kubernetes

import (
	"context"
	"fmt"
	"os"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Config is the API server connection: in-cluster when sablebox runs in
// a Pod, else the kubeconfig file (KUBECONFIG or ~/.kube/config when
// empty).
func Config(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("%w: the in-cluster config: %v", sandbox.ErrUnavailable, err)
		}
		return c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig: %v (give --kubeconfig FILE, or set KUBECONFIG)", sandbox.ErrUnavailable, err)
	}
	return c, nil
}

// Setup makes namespace ready for tool Pods, creating what is missing:
// the namespace with its Pod Security labels, the deny-all NetworkPolicy
// and the runner's RBAC. What exists already is checked, not changed: a
// namespace that does not enforce restricted, or a NetworkPolicy of that
// name that lets traffic through, is an error that says so. It returns
// what it did, a line each.
func Setup(ctx context.Context, c k8s.Interface, namespace string) ([]string, error) {
	var done []string
	if _, err := c.CoreV1().Namespaces().Create(ctx, Namespace(namespace), metav1.CreateOptions{}); err == nil {
		done = append(done, "created namespace "+namespace+" (enforcing restricted)")
	} else if !apierrors.IsAlreadyExists(err) {
		return done, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	if _, err := c.NetworkingV1().NetworkPolicies(namespace).Create(ctx, DenyAll(namespace), metav1.CreateOptions{}); err == nil {
		done = append(done, "created NetworkPolicy sablebox-deny-all")
	} else if !apierrors.IsAlreadyExists(err) {
		return done, fmt.Errorf("create the NetworkPolicy: %w", err)
	}
	sa, role, binding := RBAC(namespace)
	for _, create := range []struct {
		what string
		do   func() error
	}{
		{"ServiceAccount " + sa.Name, func() error {
			_, err := c.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
			return err
		}},
		{"Role " + role.Name, func() error {
			_, err := c.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{})
			return err
		}},
		{"RoleBinding " + binding.Name, func() error {
			_, err := c.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{})
			return err
		}},
	} {
		if err := create.do(); err == nil {
			done = append(done, "created "+create.what)
		} else if !apierrors.IsAlreadyExists(err) {
			return done, fmt.Errorf("create %s: %w", create.what, err)
		}
	}
	return done, Check(ctx, c, namespace)
}

// Check refuses a namespace tool Pods must not run in: one that does not
// enforce the restricted Pod Security Standard, or whose sablebox-deny-all
// NetworkPolicy is missing or lets traffic through. The backend checks it
// before its first run.
func Check(ctx context.Context, c k8s.Interface, namespace string) error {
	ns, err := c.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%w: namespace %s: %v (sablebox k8s setup makes it)", sandbox.ErrUnavailable, namespace, err)
	}
	if level := ns.Labels["pod-security.kubernetes.io/enforce"]; level != "restricted" {
		return fmt.Errorf("%w: namespace %s enforces Pod Security %q, not \"restricted\": label it pod-security.kubernetes.io/enforce=restricted, or use a namespace that does",
			sandbox.ErrPolicy, namespace, level)
	}
	np, err := c.NetworkingV1().NetworkPolicies(namespace).Get(ctx, DenyAll(namespace).Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("%w: namespace %s has no NetworkPolicy sablebox-deny-all (%v): sablebox k8s setup makes it", sandbox.ErrPolicy, namespace, err)
	}
	want := DenyAll(namespace).Spec
	if !reflect.DeepEqual(np.Spec.PodSelector, want.PodSelector) || !reflect.DeepEqual(np.Spec.PolicyTypes, want.PolicyTypes) ||
		len(np.Spec.Ingress) > 0 || len(np.Spec.Egress) > 0 {
		return fmt.Errorf("%w: namespace %s: the NetworkPolicy sablebox-deny-all lets traffic through (it must select %s=%s, deny Ingress and Egress, and allow nothing): delete it and run sablebox k8s setup",
			sandbox.ErrPolicy, namespace, LabelRole, roleTool)
	}
	return nil
}
