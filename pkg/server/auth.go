package server

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Token is one client's credential and policy, as the operator's config
// gives it: the secret itself is never stored, only its SHA-256.
type Token struct {
	// Name names the client in the audit record and the logs.
	Name string
	// SHA256 is the hex SHA-256 of the secret (see NewToken).
	SHA256 string
	// Policy is what the client may ask for.
	Policy Policy
}

// Policy bounds what one token may ask for.
type Policy struct {
	// Ceiling is the most a run of this token may have; zero fields take
	// sablebox's defaults as the ceiling.
	Ceiling sandbox.Limits
	// Rate is how many runs a second the token may start (0: 1), and
	// Burst how many at once (0: 10).
	Rate  float64
	Burst int
	// Backends are the runtimes the token may run on (any when empty);
	// its runs go to the first unless a request names another of them.
	Backends []string
}

// Defaults of a Policy.
const (
	DefaultRate  = 1.0
	DefaultBurst = 10
)

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// NewToken makes a fresh random secret and its hash, for `sablebox token`.
func NewToken() (secret, sha string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("server: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	secret = "sbx_" + hex.EncodeToString(b[:])
	return secret, HashToken(secret)
}

// HashToken is the hex SHA-256 of a secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// tokenTable finds a request's token and holds each token's rate limiter.
type tokenTable struct {
	tokens   []Token
	limiters []*rate.Limiter
}

func newTokenTable(tokens []Token) (*tokenTable, error) {
	if len(tokens) == 0 {
		return nil, errors.New("no tokens configured: make one with `sablebox token new --name NAME` and add it under `tokens:` in the config")
	}
	t := &tokenTable{}
	seen := map[string]bool{}
	for i, tok := range tokens {
		switch {
		case !tokenNameRE.MatchString(tok.Name):
			return nil, fmt.Errorf("tokens[%d]: name %q: use letters, digits, '.', '_' and '-' (up to 64)", i, tok.Name)
		case seen[tok.Name]:
			return nil, fmt.Errorf("tokens[%d]: the name %q is used twice", i, tok.Name)
		case !hashRE.MatchString(tok.SHA256):
			return nil, fmt.Errorf("tokens[%d] (%s): sha256 must be 64 lowercase hex digits (`sablebox token new` prints it)", i, tok.Name)
		case tok.Policy.Rate < 0 || tok.Policy.Burst < 0:
			return nil, fmt.Errorf("tokens[%d] (%s): rate and burst must not be negative", i, tok.Name)
		}
		for _, b := range tok.Policy.Backends {
			if !slices.Contains(runner.Runtimes(), b) {
				return nil, fmt.Errorf("tokens[%d] (%s): backend %q: want any of %s", i, tok.Name, b, strings.Join(runner.Runtimes(), ", "))
			}
		}
		seen[tok.Name] = true
		if tok.Policy.Rate == 0 {
			tok.Policy.Rate = DefaultRate
		}
		if tok.Policy.Burst == 0 {
			tok.Policy.Burst = DefaultBurst
		}
		tok.Policy.Ceiling = tok.Policy.Ceiling.WithDefaults()
		if err := tok.Policy.Ceiling.Validate(); err != nil {
			return nil, fmt.Errorf("tokens[%d] (%s): ceiling: %w", i, tok.Name, err)
		}
		t.tokens = append(t.tokens, tok)
		t.limiters = append(t.limiters, rate.NewLimiter(rate.Limit(tok.Policy.Rate), tok.Policy.Burst))
	}
	return t, nil
}

// authenticate returns the token a request bears, or a 401.
func (t *tokenTable) authenticate(r *http.Request) (int, error) {
	auth := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || secret == "" {
		return -1, &apiError{status: http.StatusUnauthorized, code: "unauthorized",
			message: "send a token: Authorization: Bearer <token>"}
	}
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i, tok := range t.tokens {
		want, _ := hex.DecodeString(tok.SHA256)
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			found = i
		}
	}
	if found < 0 {
		return -1, &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "the token is not known here"}
	}
	return found, nil
}

// admit takes one run from token i's rate, or answers 429 with when to
// come back.
func (t *tokenTable) admit(i int) error {
	res := t.limiters[i].Reserve()
	if delay := res.Delay(); delay > 0 {
		res.Cancel()
		return &apiError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: max(delay, time.Second),
			message: fmt.Sprintf("token %s may start %g runs a second (burst %d): retry later", t.tokens[i].Name,
				t.tokens[i].Policy.Rate, t.tokens[i].Policy.Burst)}
	}
	return nil
}

// within sets *limit to asked when the request sets it (above zero), and
// refuses a negative value or one above ceiling.
func within[T cmp.Ordered](what string, asked T, limit *T, ceiling T) error {
	var zero T
	switch {
	case asked < zero:
		return badRequest("invalid_request", "%s %v: limits must not be negative", what, asked)
	case asked == zero:
		return nil
	case asked > ceiling:
		return &apiError{status: http.StatusForbidden, code: "limit_above_ceiling",
			message: fmt.Sprintf("%s %v is above this token's ceiling of %v", what, asked, ceiling)}
	}
	*limit = asked
	return nil
}

// limits are a request's limits under the policy's ceiling: a field the
// request leaves unset takes the default, or the ceiling where that is
// lower; a field above the ceiling is refused.
func (p *Policy) limits(req *Limits) (sandbox.Limits, error) {
	c := p.Ceiling
	l := sandbox.DefaultLimits()
	l.Timeout, l.MemoryBytes, l.CPUs = min(l.Timeout, c.Timeout), min(l.MemoryBytes, c.MemoryBytes), min(l.CPUs, c.CPUs)
	l.Pids, l.OutputBytes = min(l.Pids, c.Pids), min(l.OutputBytes, c.OutputBytes)
	l.TmpBytes, l.NoFile, l.NProc = c.TmpBytes, c.NoFile, c.NProc
	if req == nil {
		return l, nil
	}
	timeout := time.Duration(req.TimeoutSeconds * float64(time.Second))
	for _, err := range []error{
		within("timeout_seconds", timeout, &l.Timeout, c.Timeout),
		within("memory_bytes", req.MemoryBytes, &l.MemoryBytes, c.MemoryBytes),
		within("cpus", req.CPUs, &l.CPUs, c.CPUs),
		within("pids", req.Pids, &l.Pids, c.Pids),
		within("output_bytes", req.OutputBytes, &l.OutputBytes, c.OutputBytes),
	} {
		if err != nil {
			return l, err
		}
	}
	if err := l.Validate(); err != nil {
		return l, badRequest("invalid_request", "%v", err)
	}
	return l, nil
}
