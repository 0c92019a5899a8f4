package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// CloudError is a non-2xx reply of the daemon's cloud service. Neutron
// (API v2.0) words its errors as {"NeutronError": {"type", "message",
// "detail"}}; Nova (v2.1) as {"itemNotFound": {"code", "message"}}, the
// key naming the fault. Error returns Message alone, as neutronclient
// prints it.
type CloudError struct {
	Status  int
	Type    string // NetworkNotFound, IpAddressInUse...; Nova's fault key
	Message string
	Detail  string
}

func (e *CloudError) Error() string { return e.Message }

// Cloud sends a JSON request to the daemon's Neutron (/v2.0/...) or Nova
// (/v2.1/...) API; path includes any query. in, when non-nil, is sent as
// the JSON body; the reply is decoded into out when out is non-nil and the
// reply has a body. A non-2xx reply is returned as a *CloudError.
func (c *Client) Cloud(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.connError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeCloudError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("api: reading reply: %w", err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("api: decoding reply to %s %s: %w", method, path, err)
	}
	return nil
}

// decodeCloudError reads an error reply: Neutron's form, then Nova's,
// then tapestry's own {"error": "..."}, else the raw body.
func decodeCloudError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ce := &CloudError{Status: resp.StatusCode}
	var neutron struct {
		NeutronError *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Detail  string `json:"detail"`
		}
	}
	if json.Unmarshal(raw, &neutron) == nil && neutron.NeutronError != nil {
		ce.Type, ce.Message, ce.Detail = neutron.NeutronError.Type, neutron.NeutronError.Message, neutron.NeutronError.Detail
		return ce
	}
	var nova map[string]json.RawMessage
	if json.Unmarshal(raw, &nova) == nil && len(nova) == 1 {
		for k, v := range nova {
			var fault struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(v, &fault) == nil && fault.Message != "" {
				ce.Type, ce.Message = k, fault.Message
				return ce
			}
			var s string
			if k == "error" && json.Unmarshal(v, &s) == nil {
				ce.Message = s
				return ce
			}
		}
	}
	ce.Message = strings.TrimSpace(string(raw))
	if ce.Message == "" {
		ce.Message = fmt.Sprintf("daemon answered %s", resp.Status)
	}
	return ce
}
