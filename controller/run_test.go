package controller_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tapestry/controller"
)

// TestRunSurvivesAppThatFailsToLoad: an app file that does not load (a
// sealed app with the wrong key, here a loader error) is left out and
// the controller serves the others instead of exiting.
func TestRunSurvivesAppThatFailsToLoad(t *testing.T) {
	log := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, controller.Options{
			Listen: "tcp:127.0.0.1:16850", REST: "127.0.0.1:16851", Token: token,
			Apps:     []string{"l2-learning", "./blocker.tlua"},
			LoadFile: func(string) (controller.App, error) { return nil, errors.New("lua: wrong key") },
			Logger:   slog.New(slog.NewTextHandler(log, nil)),
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var body string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://127.0.0.1:16851/apps")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		break
	}
	if !strings.Contains(body, `"name":"l2-learning"`) || strings.Contains(body, "blocker") {
		t.Errorf("GET /apps = %q, want l2-learning only", body)
	}
	if !strings.Contains(log.String(), "app not loaded") || !strings.Contains(log.String(), "wrong key") {
		t.Errorf("log does not name the app that failed:\n%s", log.String())
	}
}

// syncWriter is a log sink the test can read while the controller writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
