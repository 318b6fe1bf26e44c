// Package client calls a `sablebox serve` service: the same runs as a
// local Runner, through the API of pkg/server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/server"
)

// Client talks to one service with one token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the service at host: unix:///path.sock,
// http://host:port or https://host:port. It connects on the first call.
func New(host, token string) (*Client, error) {
	if token == "" {
		return nil, errors.New("no token for the sablebox service: set --token or SABLEBOX_TOKEN")
	}
	c := &Client{token: token, http: &http.Client{}}
	switch {
	case strings.HasPrefix(host, "unix://"):
		path := strings.TrimPrefix(host, "unix://")
		c.base = "http://sablebox"
		c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
	case strings.HasPrefix(host, "http://"), strings.HasPrefix(host, "https://"):
		u, err := url.Parse(host)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("server %q: want unix:///path.sock or https://host:port", host)
		}
		c.base = strings.TrimSuffix(host, "/")
	default:
		return nil, fmt.Errorf("server %q: want unix:///path.sock or https://host:port", host)
	}
	return c, nil
}

// Error is an error answer of the service. It wraps the sandbox error of
// its class, so that callers map it as they map a local run's.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("sablebox service: %s (%s)", e.Message, e.Code) }

// Unwrap gives the sandbox error of the answer's class.
func (e *Error) Unwrap() error {
	switch {
	case e.Status == http.StatusForbidden:
		return sandbox.ErrPolicy
	case e.Status == http.StatusServiceUnavailable:
		return sandbox.ErrUnavailable
	case e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Status != http.StatusUnauthorized:
		return sandbox.ErrInvalidSpec
	}
	return nil
}

// Run runs req on the service and waits for its result. Cancelling ctx
// ends the request, and the service kills the run.
func (c *Client) Run(ctx context.Context, req server.RunRequest) (*sandbox.Result, error) {
	req.Wait = true
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var res sandbox.Result
	if err := c.do(ctx, http.MethodPost, "/v1/runs", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// File returns a file the run left in /output.
func (c *Client) File(ctx context.Context, runID, path string) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.do(ctx, http.MethodGet, "/v1/runs/"+url.PathEscape(runID)+"/files/"+path, nil, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// do sends one request and decodes the answer into out (a *bytes.Buffer
// takes the raw body).
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: cannot reach the sablebox service: %v", sandbox.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e server.ErrorBody
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s: %.200s", resp.Status, data)}
		}
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if buf, ok := out.(*bytes.Buffer); ok {
		_, err = io.Copy(buf, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the service's answer: %w", err)
	}
	return nil
}
