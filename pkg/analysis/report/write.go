package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/termsafe"
)

// Text writes one line per finding (path:line:column: severity [rule]
// message: text) and per file that could not be scanned, then a summary
// line. Matched text is escaped: it is the tool's, and may hold what a
// terminal would obey.
func Text(w io.Writer, files []File, failOn analysis.Severity) error {
	var findings, blocking, failed int
	for _, f := range files {
		if f.Err != nil {
			failed++
			if _, err := fmt.Fprintf(w, "%s: error: %s\n", safe(f.Path), safe(f.Err.Error())); err != nil {
				return err
			}
		}
		for _, x := range f.Findings {
			findings++
			if x.Severity >= failOn {
				blocking++
			}
			if _, err := fmt.Fprintf(w, "%s:%d:%d: %s [%s] %s: %s\n", safe(f.Path), x.Line, x.Column, x.Severity, x.Rule,
				safe(x.Message), safe(x.Text)); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d file(s): %d finding(s), %d at or above %s; %d could not be scanned\n",
		len(files), findings, blocking, failOn, failed)
	return err
}

func safe(s string) string { return string(termsafe.Escape([]byte(s))) }

// jsonFile is a File as JSON gives it, its findings as a run's result
// gives them.
type jsonFile struct {
	Path     string            `json:"path"`
	Lang     string            `json:"lang,omitempty"`
	Findings []sandbox.Finding `json:"findings"`
	Error    string            `json:"error,omitempty"`
}

// JSON writes {"files": [{path, lang, findings, error}]}.
func JSON(w io.Writer, files []File) error {
	out := struct {
		Files []jsonFile `json:"files"`
	}{Files: []jsonFile{}}
	for _, f := range files {
		jf := jsonFile{Path: f.Path, Lang: f.Lang, Findings: []sandbox.Finding{}}
		if f.Err != nil {
			jf.Error = f.Err.Error()
		}
		for _, x := range f.Findings {
			jf.Findings = append(jf.Findings, sandbox.Finding{Rule: x.Rule, Severity: x.Severity.String(),
				Line: x.Line, Column: x.Column, Text: x.Text, Message: x.Message})
		}
		out.Files = append(out.Files, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// sarifLevels map a severity to SARIF's result levels.
var sarifLevels = map[analysis.Severity]string{analysis.Low: "note", analysis.Medium: "warning", analysis.High: "error", analysis.Critical: "error"}

// securitySeverity is the score code-scanning pages rank security
// findings by (GitHub's security-severity property: 9.0 and up critical,
// 7.0 high, 4.0 medium, below low).
var securitySeverity = map[analysis.Severity]string{analysis.Low: "2.0", analysis.Medium: "5.0", analysis.High: "8.0", analysis.Critical: "9.5"}

// InformationURI is where the SARIF log says sablebox is described.
const InformationURI = "https://github.com/sablebox/sablebox"

// SARIF writes a SARIF 2.1.0 log of one run of sablebox's scanner, with
// every rule in the driver's catalogue and each file that could not be
// scanned as an error notification of the invocation.
func SARIF(w io.Writer, files []File, version string) error {
	run := sarif.NewRunWithInformationURI("sablebox", InformationURI)
	run.Tool.Driver.WithVersion(version)
	for _, r := range analysis.Rules() {
		props := sarif.NewPropertyBag()
		props.Add("security-severity", securitySeverity[r.Severity])
		props.Add("tags", []string{"security"})
		run.AddRule(r.ID).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(r.Description)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevels[r.Severity])).
			WithProperties(props)
	}
	invocation := sarif.NewInvocation().WithExecutionSuccessful(true)
	for _, f := range files {
		uri := filepath.ToSlash(filepath.Clean(f.Path))
		if f.Err != nil {
			invocation.WithExecutionSuccessful(false)
			invocation.AddToolExecutionNotification(sarif.NewNotification().WithLevel("error").
				WithMessage(sarif.NewTextMessage(f.Path + ": " + f.Err.Error())))
			continue
		}
		run.AddDistinctArtifact(uri)
		for _, x := range f.Findings {
			region := sarif.NewRegion().WithStartLine(x.Line).WithStartColumn(x.Column).
				WithSnippet(sarif.NewArtifactContent().WithText(x.Text))
			run.CreateResultForRule(x.Rule).
				WithLevel(sarifLevels[x.Severity]).
				WithMessage(sarif.NewTextMessage(x.Message)).
				AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewSimpleArtifactLocation(uri)).WithRegion(region)))
		}
	}
	run.AddInvocation(invocation)
	log := sarif.NewReport()
	log.AddRun(run)
	if err := log.PrettyWrite(w); err != nil {
		return fmt.Errorf("write the SARIF log: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Formats lists the formats Write takes.
var Formats = []string{"text", "json", "sarif"}

// Write writes files in format (text, json or sarif).
func Write(w io.Writer, format string, files []File, failOn analysis.Severity, version string) error {
	switch strings.ToLower(format) {
	case "text", "":
		return Text(w, files, failOn)
	case "json":
		return JSON(w, files)
	case "sarif":
		return SARIF(w, files, version)
	}
	return fmt.Errorf("unknown format %q: want %s", format, strings.Join(Formats, ", "))
}
