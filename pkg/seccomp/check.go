package seccomp

import (
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Risk is how much harm a syscall lets a sandboxed tool do.
type Risk string

// The risks. A profile that allows a High one without an argument filter
// fails the check: a run refuses it unless the config opts in to unsafe
// profiles (seccomp-unsafe).
const (
	High   Risk = "high"
	Medium Risk = "medium"
)

// dangerous says why each syscall is dangerous to allow a tool, and how
// much. The default and minimal profiles leave every one of them out, or
// allow it only with the argument filters of narrowed.
var dangerous = map[string]struct {
	risk Risk
	why  string
}{
	"ptrace":            {High, "reads and writes other processes' memory and registers: a way out of every other layer"},
	"process_vm_readv":  {High, "reads another process's memory"},
	"process_vm_writev": {High, "writes another process's memory"},
	"mount":             {High, "changes the file-system view; with a user namespace, mounts over what the sandbox hides"},
	"umount2":           {High, "uncovers what a mount hides"},
	"umount":            {High, "uncovers what a mount hides"},
	"pivot_root":        {High, "changes the root: the first step of many escapes"},
	"chroot":            {High, "changes the root; with a held directory descriptor, leaves it"},
	"unshare":           {High, "makes namespaces: a user namespace grants every capability inside it and opens kernel code to the tool"},
	"setns":             {High, "joins another namespace through a held descriptor"},
	"clone":             {High, "without a flag filter, makes new namespaces as unshare does"},
	"bpf":               {High, "loads programs into the kernel; a frequent source of kernel exploits"},
	"perf_event_open":   {High, "kernel performance counters: side channels and a long record of kernel bugs"},
	"keyctl":            {High, "the kernel keyring is not namespaced: keys of the host and other containers"},
	"add_key":           {High, "the kernel keyring is not namespaced"},
	"request_key":       {High, "the kernel keyring is not namespaced"},
	"init_module":       {High, "loads kernel code"},
	"finit_module":      {High, "loads kernel code"},
	"delete_module":     {High, "unloads kernel code"},
	"kexec_load":        {High, "replaces the running kernel"},
	"kexec_file_load":   {High, "replaces the running kernel"},
	"reboot":            {High, "reboots the host, or the pid namespace"},
	"io_uring_setup":    {High, "io_uring runs syscalls the filter never sees, and has had many kernel exploits"},
	"io_uring_enter":    {High, "io_uring runs syscalls the filter never sees"},
	"io_uring_register": {High, "io_uring runs syscalls the filter never sees"},
	"userfaultfd":       {High, "stalls kernel code at a page fault: the usual lever of race exploits"},
	"open_by_handle_at": {High, "opens a file by handle, around mounts: the 'shocker' escape"},
	"ioctl":             {High, "without a command filter, TIOCSTI types commands into the terminal that runs sablebox, and TIOCLINUX drives the console"},
	"fsopen":            {High, "the new mount API: mounts as mount does"},
	"fsmount":           {High, "the new mount API"},
	"fsconfig":          {High, "the new mount API"},
	"move_mount":        {High, "the new mount API"},
	"open_tree":         {High, "clones mount trees"},
	"mount_setattr":     {High, "changes mount flags (read-only, noexec)"},
	"setuid":            {Medium, "changes identity (refused without capabilities, but a root tool could drop or take ids)"},
	"setgid":            {Medium, "changes identity"},
	"setreuid":          {Medium, "changes identity"},
	"setregid":          {Medium, "changes identity"},
	"setresuid":         {Medium, "changes identity"},
	"setresgid":         {Medium, "changes identity"},
	"setgroups":         {Medium, "changes supplementary groups"},
	"setfsuid":          {Medium, "changes identity for file access"},
	"setfsgid":          {Medium, "changes identity for file access"},
	"capset":            {Medium, "changes capabilities"},
	"socket":            {Medium, "without a family filter, raw, packet and netlink sockets reach kernel network code"},
	"personality":       {Medium, "without a value filter, ADDR_NO_RANDOMIZE turns off address randomisation for what the tool runs"},
	"prctl":             {Medium, "without an option filter, changes dumpability, securebits, ambient capabilities and memory maps"},
	"memfd_create":      {Medium, "an anonymous file that can be executed: runs code that was never on a noexec mount"},
	"execveat":          {Medium, "executes a descriptor, such as a memfd"},
	"mknod":             {Medium, "makes device nodes (refused without CAP_MKNOD, but not worth the surface)"},
	"mknodat":           {Medium, "makes device nodes"},
	"name_to_handle_at": {Medium, "pairs with open_by_handle_at"},
	"swapon":            {Medium, "host swap"},
	"swapoff":           {Medium, "host swap"},
	"acct":              {Medium, "host process accounting"},
	"settimeofday":      {Medium, "the host clock"},
	"clock_settime":     {Medium, "the host clock"},
	"clock_adjtime":     {Medium, "the host clock"},
	"adjtimex":          {Medium, "the host clock"},
	"iopl":              {Medium, "I/O port access"},
	"ioperm":            {Medium, "I/O port access"},
	"quotactl":          {Medium, "host disk quotas"},
	"syslog":            {Medium, "reads the host's kernel log"},
	"vhangup":           {Medium, "hangs up the terminal"},
	"kcmp":              {Medium, "compares other processes' kernel objects"},
	"pidfd_getfd":       {Medium, "takes another process's descriptors"},
	"lookup_dcookie":    {Medium, "kernel profiling"},
	"fanotify_init":     {Medium, "watches the whole file system"},
	"vmsplice":          {Medium, "a long record of kernel bugs (Dirty Pipe's neighbour)"},
	"move_pages":        {Medium, "moves other processes' pages"},
	"migrate_pages":     {Medium, "moves other processes' pages"},
	"mbind":             {Medium, "NUMA policy, with a record of kernel bugs"},
	"uselib":            {Medium, "obsolete loader call"},
	"nfsservctl":        {Medium, "obsolete NFS server call"},
	"sysfs":             {Medium, "obsolete file-system queries"},
	"_sysctl":           {Medium, "obsolete kernel settings call"},
}

// Finding is a dangerous syscall a profile allows.
type Finding struct {
	Name string `json:"name"`
	Risk Risk   `json:"risk"`
	Why  string `json:"why"`
	// Narrowed says it is allowed only with argument filters, which
	// sablebox's own profiles use to take the danger out; it does not
	// fail the check.
	Narrowed bool `json:"narrowed,omitempty"`
}

// Report is what a profile allows on one architecture.
type Report struct {
	Arch specs.Arch `json:"arch"`
	// Allowed are the syscalls allowed whatever their arguments;
	// Narrowed those allowed only with argument filters.
	Allowed  []string `json:"allowed"`
	Narrowed []string `json:"narrowed"`
	// Refused names calls with a rule of their own that refuses them
	// (clone3's ENOSYS, for one).
	Refused []string `json:"refused,omitempty"`
	// NotOnArch are names the profile lists that arch has no number for.
	NotOnArch []string  `json:"not_on_arch,omitempty"`
	Dangerous []Finding `json:"dangerous"`
}

// Lets is the set of syscalls the profile lets through in some form.
func (r Report) Lets() map[string]bool {
	m := map[string]bool{}
	for _, n := range append(slices.Clone(r.Allowed), r.Narrowed...) {
		m[n] = true
	}
	return m
}

// Count is how many syscalls the profile lets through in some form.
func (r Report) Count() int { return len(r.Allowed) + len(r.Narrowed) }

// Fails reports whether the profile allows a high-risk syscall without an
// argument filter.
func (r Report) Fails() bool { return len(r.HighRisk()) > 0 }

// HighRisk are the names of the high-risk syscalls allowed without a
// filter.
func (r Report) HighRisk() []string {
	var names []string
	for _, f := range r.Dangerous {
		if f.Risk == High && !f.Narrowed {
			names = append(names, f.Name)
		}
	}
	return names
}

// lets reports whether an action lets the syscall run.
func lets(a specs.LinuxSeccompAction) bool { return a == ActAllow || a == ActLog }

// Check reports what the profile allows on arch (the first one it names
// when arch is ""), for a container with no capabilities.
func (p *Profile) Check(arch specs.Arch) Report {
	if arch == "" {
		if a := p.Arches(); len(a) > 0 {
			arch = a[0]
		}
	}
	r := Report{Arch: arch}
	plain, filtered, refused := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range p.Syscalls {
		if !s.Applies(arch) {
			continue
		}
		for _, n := range s.Names {
			switch {
			case !OnArch(n, arch):
				if !slices.Contains(r.NotOnArch, n) {
					r.NotOnArch = append(r.NotOnArch, n)
				}
			case lets(s.Action) && len(s.Args) == 0:
				plain[n] = true
			case lets(s.Action):
				filtered[n] = true
			default:
				refused[n] = true
			}
		}
	}
	for n := range plain {
		r.Allowed = append(r.Allowed, n)
		delete(filtered, n)
	}
	for n := range filtered {
		r.Narrowed = append(r.Narrowed, n)
	}
	for n := range refused {
		if !plain[n] && !filtered[n] {
			r.Refused = append(r.Refused, n)
		}
	}
	sort.Strings(r.Allowed)
	sort.Strings(r.Narrowed)
	sort.Strings(r.Refused)
	sort.Strings(r.NotOnArch)
	for _, n := range append(slices.Clone(r.Allowed), r.Narrowed...) {
		if d, ok := dangerous[n]; ok {
			r.Dangerous = append(r.Dangerous, Finding{Name: n, Risk: d.risk, Why: d.why, Narrowed: !plain[n]})
		}
	}
	sort.Slice(r.Dangerous, func(i, j int) bool {
		a, b := r.Dangerous[i], r.Dangerous[j]
		if a.Risk != b.Risk {
			return a.Risk == High
		}
		return a.Name < b.Name
	})
	return r
}

// Diff is what one profile allows that another does not, on one
// architecture.
type Diff struct {
	Arch specs.Arch `json:"arch"`
	// OnlyA and OnlyB are allowed (in some form) by one profile only.
	OnlyA []string `json:"only_a"`
	OnlyB []string `json:"only_b"`
	// Filters lists names both allow but with different argument rules.
	Filters []string `json:"filters_differ"`
}

// Compare diffs what a and b allow on arch.
func Compare(a, b *Profile, arch specs.Arch) Diff {
	ra, rb := a.Check(arch), b.Check(arch)
	d := Diff{Arch: arch}
	ma, mb := ra.Lets(), rb.Lets()
	for n := range ma {
		if !mb[n] {
			d.OnlyA = append(d.OnlyA, n)
		} else if fmt.Sprint(argRules(a, n, arch)) != fmt.Sprint(argRules(b, n, arch)) {
			d.Filters = append(d.Filters, n)
		}
	}
	for n := range mb {
		if !ma[n] {
			d.OnlyB = append(d.OnlyB, n)
		}
	}
	sort.Strings(d.OnlyA)
	sort.Strings(d.OnlyB)
	sort.Strings(d.Filters)
	return d
}

// argRules are the argument filters of the rules that allow name, sorted,
// or nil when one rule allows it whatever its arguments.
func argRules(p *Profile, name string, arch specs.Arch) []string {
	var rules []string
	for _, s := range p.Syscalls {
		if !s.Applies(arch) || !lets(s.Action) || !slices.Contains(s.Names, name) {
			continue
		}
		if len(s.Args) == 0 {
			return nil
		}
		rules = append(rules, fmt.Sprint(s.Args))
	}
	sort.Strings(rules)
	return rules
}
