package cli

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"
	k8sclient "k8s.io/client-go/kubernetes"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/kubernetes"
)

func newK8sCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s",
		Short: "The Kubernetes namespace sablebox's tool Pods need",
	}
	var namespace, dir string
	manifests := &cobra.Command{
		Use:   "manifests [--namespace NS] [--dir DIR]",
		Short: "Print the namespace, NetworkPolicy, RBAC and RuntimeClass manifests",
		Long: `Print, or write one file each into --dir, the manifests of a namespace for
sablebox's tool Pods: the namespace enforcing the Restricted Pod Security
Standard, a NetworkPolicy that denies all ingress and egress to tool Pods,
the least RBAC the runner needs there, and the optional gVisor RuntimeClass.
They come from the code that builds the Pods; examples/k8s holds them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := kubernetes.Manifests(namespace)
			if err != nil {
				return err
			}
			for i, name := range slices.Sorted(maps.Keys(files)) {
				if dir != "" {
					if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
						return err
					}
					continue
				}
				if i > 0 {
					fmt.Fprintln(a.streams.Out, "---")
				}
				fmt.Fprintf(a.streams.Out, "# %s\n%s", name, files[name])
			}
			return nil
		},
	}
	manifests.Flags().StringVar(&namespace, "namespace", kubernetes.DefaultNamespace, "the namespace of the tool Pods")
	manifests.Flags().StringVar(&dir, "dir", "", "write one file per manifest into this directory")
	var kubeconfig string
	var checkOnly bool
	setup := &cobra.Command{
		Use:   "setup [--namespace NS] [--kubeconfig FILE] [--check]",
		Short: "Make (or check) a namespace ready for tool Pods",
		Long: `Create what a namespace for sablebox's tool Pods lacks: the namespace
enforcing the Restricted Pod Security Standard, the NetworkPolicy that
denies all ingress and egress to tool Pods, and the runner's least RBAC.
What exists is checked, not changed: a namespace that does not enforce
restricted, or a sablebox-deny-all NetworkPolicy that lets traffic
through, is refused (exit 126). --check only checks. The NetworkPolicy
holds only where the cluster's network plugin enforces NetworkPolicies.

The API server is the in-cluster one inside a Pod, else --kubeconfig (or
KUBECONFIG, or ~/.kube/config).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := kubernetes.Config(kubeconfig)
			if err != nil {
				return err
			}
			c, err := k8sclient.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
			}
			if checkOnly {
				if err := kubernetes.Check(cmd.Context(), c, namespace); err != nil {
					return err
				}
				fmt.Fprintf(a.streams.Err, "sablebox: namespace %s is ready for tool Pods\n", namespace)
				return nil
			}
			done, err := kubernetes.Setup(cmd.Context(), c, namespace)
			for _, d := range done {
				fmt.Fprintf(a.streams.Err, "sablebox: %s\n", d)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "sablebox: namespace %s is ready for tool Pods\n", namespace)
			return nil
		},
	}
	setup.Flags().StringVar(&namespace, "namespace", kubernetes.DefaultNamespace, "the namespace of the tool Pods")
	setup.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, else KUBECONFIG or ~/.kube/config)")
	setup.Flags().BoolVar(&checkOnly, "check", false, "only check the namespace; change nothing")
	cmd.AddCommand(manifests, setup)
	return cmd
}
