// Package kubernetes is the Kubernetes backend's object model: the Pod,
// ConfigMap, NetworkPolicy, namespace, RBAC and RuntimeClass that a run
// and its namespace need, built here and nowhere else, so that the backend,
// `sablebox k8s manifests` and the committed examples/k8s files cannot
// drift. Every Pod meets the Restricted Pod Security Standard and more.
package kubernetes

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Name is the backend's name.
const Name = "kubernetes"

// Labels every object of a run carries, for cleanup and the sweep.
const (
	LabelManaged = "app.kubernetes.io/managed-by"
	LabelRun     = "sablebox.dev/run"
	LabelRole    = "sablebox.dev/role"
	managedBy    = "sablebox"
	roleTool     = "tool"
)

// Defaults of a namespace set up for sablebox.
const (
	DefaultNamespace = "sablebox"
	// DefaultSeccompProfile is the Localhost profile's path under the
	// kubelet's seccomp directory, installed on nodes by the DaemonSet.
	DefaultSeccompProfile = "sablebox/default.json"
	// GVisorRuntimeClass names the optional RuntimeClass for gVisor.
	GVisorRuntimeClass = "gvisor"
	// ServiceAccount is the runner's account.
	ServiceAccount = "sablebox-runner"
)

// PodOptions shape a run's Pod.
type PodOptions struct {
	Namespace string
	Image     string
	// SeccompLocalhost is the Localhost profile (relative to the
	// kubelet's seccomp directory); empty asks for RuntimeDefault.
	SeccompLocalhost string
	// RuntimeClass, when set, names the Pod's RuntimeClass (gVisor).
	RuntimeClass string
}

// ObjectName is the name of a run's objects.
func ObjectName(runID string) string { return "sablebox-" + strings.ToLower(runID) }

// The ConfigMap's keys and the Pod's mounts of them.
const (
	toolVolume      = "tool"
	workspaceVolume = "workspace"
	toolKey         = "tool"
)

// Objects are what one run makes: its ConfigMap (the tool and workspace
// files) and its Pod.
type Objects struct {
	ConfigMap *corev1.ConfigMap
	Pod       *corev1.Pod
}

// ForRun builds a run's objects. The tool and the workspace files reach
// the Pod through the ConfigMap only: no host path.
func ForRun(spec *sandbox.Spec, o PodOptions) (*Objects, error) {
	if spec.Workspace != "" {
		return nil, fmt.Errorf("%w: the kubernetes backend takes workspace files by content (Files), not a host directory", sandbox.ErrInvalidSpec)
	}
	l := spec.Limits.WithDefaults()
	name := ObjectName(spec.RunID)
	labels := map[string]string{LabelManaged: managedBy, LabelRun: strings.ToLower(spec.RunID), LabelRole: roleTool}
	meta := metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels}

	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta,
		BinaryData: map[string][]byte{}, Immutable: ptr(true)}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	readOnly := int32(0o444)
	if spec.Tool != nil {
		cm.BinaryData[toolKey] = spec.Tool.Content
		volumes = append(volumes, corev1.Volume{Name: toolVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, DefaultMode: &readOnly,
			Items: []corev1.KeyToPath{{Key: toolKey, Path: spec.Tool.Name}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: toolVolume, MountPath: sandbox.ToolDir, ReadOnly: true})
	}
	if len(spec.Files) > 0 {
		var items []corev1.KeyToPath
		for i, f := range spec.Files {
			key := fmt.Sprintf("file-%d", i)
			cm.BinaryData[key] = f.Content
			mode := int32(0o444)
			if f.Executable {
				mode = 0o555
			}
			items = append(items, corev1.KeyToPath{Key: key, Path: path.Clean(f.Path), Mode: &mode})
		}
		volumes = append(volumes, corev1.Volume{Name: workspaceVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, DefaultMode: &readOnly, Items: items}}})
		mounts = append(mounts, corev1.VolumeMount{Name: workspaceVolume, MountPath: sandbox.WorkspaceDir, ReadOnly: true})
	}
	for _, d := range []struct {
		name, path string
		size       int64
	}{{"tmp", sandbox.TmpDir, l.TmpBytes}, {"home", sandbox.HomeDir, sandbox.HomeBytes}} {
		size := resource.NewQuantity(d.size, resource.BinarySI)
		volumes = append(volumes, corev1.Volume{Name: d.name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: size}}})
		mounts = append(mounts, corev1.VolumeMount{Name: d.name, MountPath: d.path})
	}
	if spec.Output {
		size := resource.NewQuantity(sandbox.MaxFileBytes, resource.BinarySI)
		volumes = append(volumes, corev1.Volume{Name: "output", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: size}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "output", MountPath: sandbox.OutputDir})
	}

	// Requests equal limits: memory, CPU, and ephemeral storage for the
	// writable layer (the memory emptyDirs count against memory).
	resources := corev1.ResourceList{
		corev1.ResourceMemory:           *resource.NewQuantity(l.MemoryBytes, resource.BinarySI),
		corev1.ResourceCPU:              *resource.NewMilliQuantity(int64(l.CPUs*1000), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(16<<20, resource.BinarySI),
	}
	entrypoint, args := engine.Command(spec)
	env := []corev1.EnvVar{{Name: "HOME", Value: sandbox.HomeDir}}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	if o.SeccompLocalhost != "" {
		seccomp = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr(o.SeccompLocalhost)}
	}
	deadline := int64((l.Timeout + 999_999_999) / 1_000_000_000)
	uid, gid := int64(sandbox.UID), int64(sandbox.GID)
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			HostNetwork:                   false,
			HostPID:                       false,
			HostIPC:                       false,
			TerminationGracePeriodSeconds: ptr(int64(0)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr(true), RunAsUser: &uid, RunAsGroup: &gid, FSGroup: &gid,
				SeccompProfile: seccomp,
			},
			Containers: []corev1.Container{{
				Name:    roleTool,
				Image:   o.Image,
				Command: entrypoint,
				Args:    args,
				Env:     env,
				Stdin:   spec.Stdin != nil, StdinOnce: spec.Stdin != nil,
				WorkingDir:               sandbox.WorkspaceDir,
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Resources:                corev1.ResourceRequirements{Requests: resources, Limits: resources},
				VolumeMounts:             mounts,
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot: ptr(true), RunAsUser: &uid, RunAsGroup: &gid,
					AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
					ReadOnlyRootFilesystem: ptr(true),
					Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:         seccomp,
					ProcMount:              ptr(corev1.DefaultProcMount),
				},
			}},
			Volumes: volumes,
		},
	}
	if o.RuntimeClass != "" {
		pod.Spec.RuntimeClassName = ptr(o.RuntimeClass)
	}
	return &Objects{ConfigMap: cm, Pod: pod}, nil
}

func ptr[T any](v T) *T { return &v }

// Namespace is a namespace for tool Pods that enforces the Restricted Pod
// Security Standard (and warns and audits at it).
func Namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			LabelManaged:                                 managedBy,
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
			"pod-security.kubernetes.io/warn":            "restricted",
			"pod-security.kubernetes.io/audit":           "restricted",
		}}}
}

// DenyAll is the namespace's NetworkPolicy: every tool Pod gets no
// ingress and no egress (the security guide's policy, turned to deny).
func DenyAll(namespace string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "sablebox-deny-all", Namespace: namespace, Labels: map[string]string{LabelManaged: managedBy}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelRole: roleTool}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		}}
}

// RBAC is the least the runner needs, in its namespace: Pods (create,
// get, list, watch, delete), their logs and attach, and ConfigMaps
// (create, get, list, delete).
func RBAC(namespace string) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	meta := metav1.ObjectMeta{Name: ServiceAccount, Namespace: namespace, Labels: map[string]string{LabelManaged: managedBy}}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta}
	role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete", "deletecollection"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods/attach"}, Verbs: []string{"create", "get"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get", "list", "delete", "deletecollection"}},
		}}
	binding := &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta,
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: ServiceAccount, Namespace: namespace}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: ServiceAccount}}
	return sa, role, binding
}

// GVisor is the optional RuntimeClass for gVisor (runsc must be a
// handler of the nodes' runtime).
func GVisor() *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{TypeMeta: metav1.TypeMeta{APIVersion: "node.k8s.io/v1", Kind: "RuntimeClass"},
		ObjectMeta: metav1.ObjectMeta{Name: GVisorRuntimeClass, Labels: map[string]string{LabelManaged: managedBy}}, Handler: "runsc"}
}
