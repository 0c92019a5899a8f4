package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPostFlowsBody checks that add-flows lines arrive whole whether the
// body comes with a Content-Length (read in one allocation) or without
// (chunked), and that a body cut short is an error.
func TestPostFlowsBody(t *testing.T) {
	body := "in_port=1,actions=output:2\n# c\nin_port=2,actions=output:1\r\n"
	want := []FlowLine{{No: 1, Text: "in_port=1,actions=output:2"}, {No: 3, Text: "in_port=2,actions=output:1"}}
	tests := []struct {
		name    string
		length  int64 // Content-Length; -1 for none
		body    io.Reader
		wantErr bool
	}{
		{"with length", int64(len(body)), strings.NewReader(body), false},
		{"chunked", -1, io.MultiReader(strings.NewReader(body)), false},
		{"empty", 0, strings.NewReader(""), false},
		{"short", int64(len(body)) + 10, strings.NewReader(body), true},
	}
	for _, tc := range tests {
		fb := &fakeBackend{}
		h := Handler(fb, nil)
		r := httptest.NewRequest(http.MethodPost, "/v1/bridges/br0/flows?command=add", tc.body)
		r.ContentLength = tc.length
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if tc.wantErr {
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s: POST flows = %d %s, want 400", tc.name, w.Code, w.Body)
			}
			continue
		}
		if w.Code != http.StatusOK {
			t.Fatalf("%s: POST flows = %d %s", tc.name, w.Code, w.Body)
		}
		wantLines := want
		if tc.length == 0 {
			wantLines = []FlowLine{}
		}
		if diff := cmp.Diff(wantLines, fb.gotFlows.Lines); diff != "" {
			t.Errorf("%s: lines (-want +got):\n%s", tc.name, diff)
		}
	}
}
