package tooltest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Counts are how many cases passed, failed and were skipped.
type Counts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Count counts results by verdict.
func Count(results []CaseResult) Counts {
	var n Counts
	for _, r := range results {
		switch r.Verdict {
		case Passed:
			n.Passed++
		case Failed:
			n.Failed++
		case Skipped:
			n.Skipped++
		}
	}
	return n
}

// String is the summary line: "N passed, N failed" and ", N skipped"
// where any were.
func (n Counts) String() string {
	s := fmt.Sprintf("%d passed, %d failed", n.Passed, n.Failed)
	if n.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", n.Skipped)
	}
	return s
}

// Line is a case's line in a plain report: PASS, FAIL or SKIP, where,
// its name and time, then its failures indented.
func Line(r CaseResult) string {
	word := map[Verdict]string{Passed: "PASS", Failed: "FAIL", Skipped: "SKIP"}[r.Verdict]
	s := fmt.Sprintf("%s %s:%d: %s (%s)", word, r.File, r.Line, r.Case, r.Duration.Round(time.Millisecond))
	if r.Verdict == Skipped {
		s = fmt.Sprintf("%s %s:%d: %s: %s", word, r.File, r.Line, r.Case, r.Skip)
	}
	for _, f := range r.Failures {
		s += "\n    " + f
	}
	return s
}

// WriteJSON writes {"cases": […], "passed": N, "failed": N, "skipped": N}.
func WriteJSON(w io.Writer, results []CaseResult) error {
	if results == nil {
		results = []CaseResult{}
	}
	type jsonCase struct {
		CaseResult
		DurationMS int64 `json:"duration_ms"`
	}
	cases := make([]jsonCase, len(results))
	for i, r := range results {
		cases[i] = jsonCase{r, r.Duration.Milliseconds()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Cases []jsonCase `json:"cases"`
		Counts
	}{cases, Count(results)})
}

// The JUnit XML form, as Jenkins' junit-4.xsd gives it (GitLab and the
// GitHub Actions reporters read it): a testsuite per case file.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name      string      `xml:"name,attr"`
		Tests     int         `xml:"tests,attr"`
		Failures  int         `xml:"failures,attr"`
		Errors    int         `xml:"errors,attr"`
		Skipped   int         `xml:"skipped,attr"`
		Time      string      `xml:"time,attr"`
		Timestamp string      `xml:"timestamp,attr"`
		Cases     []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Skipped   *junitSkipped `xml:"skipped"`
		Failure   *junitFailure `xml:"failure"`
		SystemOut string        `xml:"system-out,omitempty"`
		SystemErr string        `xml:"system-err,omitempty"`
	}
	junitSkipped struct {
		Message string `xml:",chardata"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",chardata"`
	}
)

// WriteJUnit writes results as JUnit XML, started at start.
func WriteJUnit(w io.Writer, results []CaseResult, start time.Time) error {
	seconds := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	all := junitSuites{Name: "sablebox test"}
	index := map[string]int{}
	var suiteTime []time.Duration
	var total time.Duration
	for _, r := range results {
		i, ok := index[r.File]
		if !ok {
			i = len(all.Suites)
			index[r.File] = i
			all.Suites = append(all.Suites, junitSuite{Name: r.File, Timestamp: start.UTC().Format("2006-01-02T15:04:05")})
			suiteTime = append(suiteTime, 0)
		}
		s := &all.Suites[i]
		c := junitCase{Name: r.Case, Classname: r.Tool, Time: seconds(r.Duration)}
		if r.Result != nil {
			c.SystemOut, c.SystemErr = xmlSafe(r.Result.Stdout.Data), xmlSafe(r.Result.Stderr.Data)
		}
		switch r.Verdict {
		case Skipped:
			c.Skipped = &junitSkipped{Message: r.Skip}
			s.Skipped++
		case Failed:
			typ := "expectation"
			if len(r.Locations) > 0 {
				typ = "analysis"
			}
			c.Failure = &junitFailure{Message: xmlSafe([]byte(r.Failures[0])), Type: typ,
				Body: xmlSafe([]byte(fmt.Sprintf("%s:%d: %s\n%s\n", r.File, r.Line, r.Case, strings.Join(r.Failures, "\n"))))}
			s.Failures++
			all.Failures++
		}
		s.Tests++
		all.Tests++
		suiteTime[i] += r.Duration
		s.Time = seconds(suiteTime[i])
		total += r.Duration
	}
	all.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlSafe keeps what XML 1.0 can hold: valid UTF-8, and no control
// characters but tab, newline and carriage return (others become U+FFFD).
func xmlSafe(b []byte) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xfffe || r == 0xffff || (r >= 0xd800 && r <= 0xdfff):
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
}
