package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

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
			for i, name := range kubernetes.ManifestNames(files) {
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
	cmd.AddCommand(manifests)
	return cmd
}
