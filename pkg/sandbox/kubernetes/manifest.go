// Package kubernetes is the Kubernetes backend's object model: the Pod,
// ConfigMap, NetworkPolicy, namespace, RBAC and RuntimeClass that a run
// and its namespace need, built here and nowhere else, so that the backend,
// `sablebox k8s manifests` and the committed examples/k8s files cannot
// drift. Every Pod meets the Restricted Pod Security Standard and more.
package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

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
	// Slack is added to the timeout in activeDeadlineSeconds: the time
	// the Pod may take to start and wait for its run. sablebox ends the
	// tool at its timeout on the dot, as on every backend; the cluster's
	// deadline ends a Pod whose sablebox died.
	Slack time.Duration
	// Annotations are put on the run's objects (the owner, for the sweep).
	Annotations map[string]string
}

// runKeyRE is a run ID that can name objects and label them as it is.
var runKeyRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// RunKey is the run's key in object names and labels: the run ID itself
// when it is lowercase letters, digits and inner dashes of at most 40
// (NewRunID's are), else a digest of it, since object names and label
// values take less than a run ID may hold.
func RunKey(runID string) string {
	if runKeyRE.MatchString(runID) {
		return runID
	}
	sum := sha256.Sum256([]byte(runID))
	return "h" + hex.EncodeToString(sum[:16])
}

// ObjectName is the name of a run's objects.
func ObjectName(runID string) string { return "sablebox-" + RunKey(runID) }

// The ConfigMap's keys and the Pod's mounts of them.
const (
	toolVolume      = "tool"
	workspaceVolume = "workspace"
	toolKey         = "tool"
)

// Container is the name of the tool's container in its Pod.
const Container = roleTool

// Objects are what one run makes: its ConfigMap (the tool and workspace
// files) and its Pod.
type Objects struct {
	ConfigMap *corev1.ConfigMap
	Pod       *corev1.Pod
}

// ForRun builds a run's objects. The tool and the workspace files reach
// the Pod through the ConfigMap only: no host path. The container runs
// sablebox's bootstrap, which waits on stdin for the run's header (its
// argv, environment and rlimits; see engine.Handoff), so that nothing
// the tool prints comes before sablebox is attached.
func ForRun(spec *sandbox.Spec, o PodOptions) (*Objects, error) {
	if spec.Workspace != "" {
		return nil, fmt.Errorf("%w: the kubernetes backend takes workspace files by content, not a host directory (%s is not on the cluster's nodes)",
			sandbox.ErrInvalidSpec, spec.Workspace)
	}
	l := spec.Limits.WithDefaults()
	name := ObjectName(spec.RunID)
	labels := map[string]string{LabelManaged: managedBy, LabelRun: RunKey(spec.RunID), LabelRole: roleTool}
	meta := metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels, Annotations: o.Annotations}

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
	seccomp := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	if o.SeccompLocalhost != "" {
		seccomp = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr(o.SeccompLocalhost)}
	}
	deadline := int64((l.Timeout + o.Slack + time.Second - 1) / time.Second)
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
				RunAsNonRoot: ptr(true), RunAsUser: &uid, RunAsGroup: &gid,
				SeccompProfile: seccomp,
			},
			Containers: []corev1.Container{{
				Name:    Container,
				Image:   o.Image,
				Command: engine.BootCommand(),
				Stdin:   true, StdinOnce: true,
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
// get, list, watch, delete), their logs, attach and exec (the kill from
// inside), and ConfigMaps (create, get, list, delete).
func RBAC(namespace string) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	meta := metav1.ObjectMeta{Name: ServiceAccount, Namespace: namespace, Labels: map[string]string{LabelManaged: managedBy}}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta}
	role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete", "deletecollection"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods/attach"}, Verbs: []string{"create", "get"}},
			// The kill from inside on a timeout or cancel, so that /output
			// comes back: exec into the namespace's tool Pods only.
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
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

// SystemNamespace holds the DaemonSet that installs sablebox's seccomp
// profiles on the nodes: it writes to a host path, which only the
// privileged Pod Security level allows, so it is kept apart from the
// tool Pods' restricted namespace.
const SystemNamespace = "sablebox-system"

// SeccompProfiles is the DaemonSet that puts sablebox's seccomp profiles
// (name → document) into every node's kubelet seccomp directory, under
// sablebox/, where the tool Pods' Localhost profile names them: its
// namespace, the ConfigMap of the profiles and the DaemonSet. Its init
// container copies them as root with no capability (the directory is
// root's); the Pod then waits, so that a new node gets them too.
func SeccompProfiles(image string, profiles map[string][]byte) (*corev1.Namespace, *corev1.ConfigMap, *appsv1.DaemonSet) {
	labels := map[string]string{LabelManaged: managedBy, "app.kubernetes.io/name": "sablebox-seccomp"}
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace, Labels: map[string]string{LabelManaged: managedBy,
			"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "baseline"}}}
	meta := metav1.ObjectMeta{Name: "sablebox-seccomp", Namespace: SystemNamespace, Labels: labels}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta, Data: map[string]string{}}
	for name, doc := range profiles {
		cm.Data[name+".json"] = string(doc)
	}
	root := int64(0)
	hostDir := corev1.HostPathDirectoryOrCreate
	sc := &corev1.SecurityContext{RunAsUser: &root, RunAsNonRoot: ptr(false), AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
		ReadOnlyRootFilesystem: ptr(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	small := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi"), corev1.ResourceCPU: resource.MustParse("10m")}
	ds := &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				AutomountServiceAccountToken: ptr(false), EnableServiceLinks: ptr(false),
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				InitContainers: []corev1.Container{{Name: "install", Image: image, SecurityContext: sc,
					Command:      []string{"/bin/sh", "-c", "cp /profiles/*.json /host/ && chmod 0644 /host/*.json"},
					Resources:    corev1.ResourceRequirements{Requests: small, Limits: small},
					VolumeMounts: []corev1.VolumeMount{{Name: "profiles", MountPath: "/profiles", ReadOnly: true}, {Name: "host", MountPath: "/host"}}}},
				Containers: []corev1.Container{{Name: "wait", Image: image, SecurityContext: sc, Command: []string{"sleep", "infinity"},
					Resources: corev1.ResourceRequirements{Requests: small, Limits: small}}},
				Volumes: []corev1.Volume{
					{Name: "profiles", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: meta.Name}}}},
					{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/kubelet/seccomp/sablebox", Type: &hostDir}}},
				},
			}},
		}}
	return ns, cm, ds
}

// ServePort is the port `sablebox serve` listens on in its Deployment.
const ServePort = 8080

// Serve is a Deployment of `sablebox serve` that runs every tool in a Pod
// of the namespace through this backend, as the runner's ServiceAccount,
// and its Service. The clients' tokens come from the Secret
// sablebox-tokens (key tokens.yaml), which the operator makes.
func Serve(namespace, image string) (*appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{LabelManaged: managedBy, "app.kubernetes.io/name": "sablebox-serve"}
	meta := metav1.ObjectMeta{Name: "sablebox-serve", Namespace: namespace, Labels: labels}
	uid := int64(10001)
	res := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi"), corev1.ResourceCPU: resource.MustParse("1")}
	dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				ServiceAccountName: ServiceAccount, AutomountServiceAccountToken: ptr(true), EnableServiceLinks: ptr(false),
				TerminationGracePeriodSeconds: ptr(int64(45)), // runs in flight get --shutdown-grace (30 s)
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: &uid, RunAsGroup: &uid,
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Containers: []corev1.Container{{
					Name: "serve", Image: image,
					Args: []string{"serve", "--tokens", "/etc/sablebox/tokens.yaml", "--listen", fmt.Sprintf("tcp://0.0.0.0:%d", ServePort)},
					Env: []corev1.EnvVar{{Name: "SABLEBOX_RUNTIME", Value: Name}, {Name: "SABLEBOX_KUBE_NAMESPACE", Value: namespace},
						{Name: "SABLEBOX_LOG_LEVEL", Value: "info"}},
					Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: ServePort}},
					Resources: corev1.ResourceRequirements{Requests: res, Limits: res},
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), Privileged: ptr(false),
						ReadOnlyRootFilesystem: ptr(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "tokens", MountPath: "/etc/sablebox", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}},
				}},
				Volumes: []corev1.Volume{
					{Name: "tokens", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sablebox-tokens"}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory,
						SizeLimit: resource.NewQuantity(16<<20, resource.BinarySI)}}},
				},
			}},
		}}
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta,
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: ServePort, TargetPort: intstr.FromString("http")}}}}
	return dep, svc
}
