package cloud

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// bigState is a cloud of 20 networks with 50 ports each.
func bigState(b *testing.B) (*State, Env, string) {
	st, env := NewState(), testEnv()
	var last string
	for i := range 20 {
		n := must(st.CreateNetwork(env, NetworkRequest{}))
		must(st.CreateSubnet(env, SubnetRequest{NetworkID: &n.ID, CIDR: sp(fmt.Sprintf("10.%d.0.0/16", i))}))
		for range 50 {
			must(st.CreatePort(env, PortRequest{NetworkID: &n.ID}))
		}
		last = n.ID
	}
	return st, env, last
}

func BenchmarkClone(b *testing.B) {
	st, _, _ := bigState(b)
	b.ReportAllocs()
	for b.Loop() {
		st.Clone()
	}
}

func BenchmarkCreatePort(b *testing.B) {
	st, env, net := bigState(b)
	b.ReportAllocs()
	for b.Loop() {
		p := must(st.CreatePort(env, PortRequest{NetworkID: &net}))
		if err := st.DeletePort(p.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRESTCreatePort(b *testing.B) {
	st, env, net := bigState(b)
	svc := NewService(st, env, nil)
	body := `{"port": {"network_id": "` + net + `"}}`
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		svc.ServeHTTP(w, httptest.NewRequest("POST", "/v2.0/ports", strings.NewReader(body)))
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}
