package cloud

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Service is the cloud's REST API: Neutron API v2.0 under /v2.0 and a
// Nova-like servers API under /v2.1/servers. Requests are served one at a
// time. A mutating request is applied to a clone of the current state,
// then committed (stored, realized); only when commit succeeds does the
// clone become current, so a refused or failed request changes nothing.
type Service struct {
	env    Env
	commit func(next *State) error

	mu  sync.Mutex
	cur *State // guarded by mu
}

// NewService serves st. commit is called with each changed state before
// it becomes current; its *Error is replied as is, any other error as a
// 500 InternalError.
func NewService(st *State, env Env, commit func(next *State) error) *Service {
	if st == nil {
		st = NewState()
	}
	return &Service{env: env, commit: commit, cur: st}
}

// State returns a copy of the current state.
func (s *Service) State() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.Clone()
}

// maxBody bounds a request body; Neutron bodies are small.
const maxBody = 1 << 20

// ServeHTTP routes a request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "HTTPBadRequest", "Malformed request body: %v", err))
		return
	}
	path := strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/"), ".json")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(segs) >= 2 && segs[0] == "v2.0":
		if res := resourceByPlural(segs[1]); res != nil {
			s.serveResource(w, r, res, segs[2:], body)
			return
		}
	case len(segs) == 3 && segs[0] == "v2.1" && segs[1] == "servers" && segs[2] == "detail" && r.Method == http.MethodGet:
		// Nova's detailed list, which is what its client asks for.
		s.list(w, r, serversResource)
	case len(segs) >= 2 && segs[0] == "v2.1" && segs[1] == "servers":
		s.serveResource(w, r, serversResource, segs[2:], body)
		return
	}
	writeError(w, notFound("HTTPNotFound", "The resource could not be found."))
}

func (s *Service) serveResource(w http.ResponseWriter, r *http.Request, res *resource, rest []string, body []byte) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.list(w, r, res)
	case len(rest) == 0 && r.Method == http.MethodPost && res.create != nil:
		s.mutate(w, http.StatusCreated, res.singular, func(st *State) (any, error) { return res.create(st, s.env, body) })
	case len(rest) == 1 && r.Method == http.MethodGet:
		obj, ok := res.get(s.cur, rest[0])
		if !ok {
			writeError(w, res.notFound(rest[0]))
			return
		}
		writeSelected(w, http.StatusOK, res.singular, obj, r.URL.Query()["fields"])
	case len(rest) == 1 && r.Method == http.MethodPut && res.update != nil:
		s.mutate(w, http.StatusOK, res.singular, func(st *State) (any, error) { return res.update(st, s.env, rest[0], body) })
	case len(rest) == 1 && r.Method == http.MethodDelete:
		s.mutate(w, http.StatusNoContent, "", func(st *State) (any, error) { return nil, res.del(st, rest[0]) })
	case len(rest) == 2 && res.action != nil && r.Method == http.MethodPut:
		if _, ok := res.get(s.cur, rest[0]); !ok {
			writeError(w, res.notFound(rest[0]))
			return
		}
		s.mutate(w, http.StatusOK, "", func(st *State) (any, error) { return res.action(st, s.env, rest[0], rest[1], body) })
	case len(rest) <= 2:
		writeError(w, errorf(http.StatusMethodNotAllowed, "HTTPMethodNotAllowed", "The method %s is not allowed for this resource.", r.Method))
	default:
		writeError(w, notFound("HTTPNotFound", "The resource could not be found."))
	}
}

// mutate applies op to a clone of the current state and commits it.
// Called with s.mu held.
func (s *Service) mutate(w http.ResponseWriter, status int, key string, op func(*State) (any, error)) {
	next := s.cur.Clone()
	obj, err := op(next)
	if err != nil {
		writeError(w, asError(err))
		return
	}
	if s.commit != nil {
		if err := s.commit(next); err != nil {
			e, ok := err.(*Error)
			if !ok {
				slog.Error("cloud: commit failed", "err", err)
				e = errorf(http.StatusInternalServerError, "InternalError", "Request Failed: internal server error while processing your request: %v", err)
			}
			writeError(w, e)
			return
		}
	}
	s.cur = next
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if key == "" {
		writeJSON(w, status, obj)
		return
	}
	writeJSON(w, status, map[string]any{key: obj})
}

func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return errorf(http.StatusBadRequest, "HTTPBadRequest", "%v", err)
}

// paging and sorting parameters, which are not attribute filters.
var listParams = map[string]bool{"fields": true, "limit": true, "marker": true, "sort_key": true, "sort_dir": true, "page_reverse": true}

// list replies with the objects whose top-level scalar attributes match
// every filter of the query (several values of one filter: any of them),
// as Neutron's list API does.
func (s *Service) list(w http.ResponseWriter, r *http.Request, res *resource) {
	q := r.URL.Query()
	schema := toMap(res.zero)
	for k := range q {
		if _, ok := schema[k]; !ok && !listParams[k] {
			writeError(w, errorf(http.StatusBadRequest, "HTTPBadRequest", "[%s] is invalid attribute for filtering", k))
			return
		}
	}
	out := []any{}
	for _, obj := range res.list(s.cur) {
		m := toMap(obj)
		if !matches(m, q) {
			continue
		}
		// Whole objects keep their attributes in the model's order, as
		// show does; selected fields are a map.
		if len(q["fields"]) == 0 {
			out = append(out, obj)
		} else {
			out = append(out, selectFields(m, q["fields"]))
		}
	}
	// The collection key spells the path with underscores: security_groups.
	writeJSON(w, http.StatusOK, map[string]any{strings.ReplaceAll(res.plural, "-", "_"): out})
}

func matches(m map[string]any, q map[string][]string) bool {
	for k, want := range q {
		if listParams[k] {
			continue
		}
		if k == "fixed_ips" {
			if !matchFixedIPs(m[k], want) {
				return false
			}
			continue
		}
		got := scalarString(m[k])
		if !slices.ContainsFunc(want, func(w string) bool { return w == got || (isBool(m[k]) && strings.EqualFold(w, got)) }) {
			return false
		}
	}
	return true
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

// matchFixedIPs serves Neutron's port filter fixed_ips=ip_address=A and
// fixed_ips=subnet_id=S (what `openstack port list --fixed-ip` sends):
// every condition must hold for one of the port's fixed IPs.
func matchFixedIPs(v any, conds []string) bool {
	ips, _ := v.([]any)
	for _, c := range conds {
		key, val, _ := strings.Cut(c, "=")
		if !slices.ContainsFunc(ips, func(x any) bool {
			m, _ := x.(map[string]any)
			return scalarString(m[key]) == val
		}) {
			return false
		}
	}
	return true
}

// scalarString renders a JSON scalar as a query value would spell it;
// lists and objects match nothing.
func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return "\x00"
}

func toMap(obj any) map[string]any {
	b, err := json.Marshal(obj)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func selectFields(m map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return m
	}
	out := map[string]any{}
	for _, f := range fields {
		for _, name := range strings.Split(f, ",") {
			if v, ok := m[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}

func writeSelected(w http.ResponseWriter, status int, key string, obj any, fields []string) {
	writeJSON(w, status, map[string]any{key: selectFields(toMap(obj), fields)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "InternalError", "encoding the reply: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
