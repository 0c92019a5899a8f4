package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error with the HTTP status the daemon answers it with. On
// the client side it carries the daemon's message, which Error returns
// verbatim so that the CLI can print it as the real tools would.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given status.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest reports invalid input (HTTP 400).
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// NotFound reports a missing bridge, port or route (HTTP 404).
func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, format, args...)
}

// Conflict reports a request that contradicts the current state, e.g. a
// bridge that already exists (HTTP 409).
func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, format, args...)
}

// StatusOf returns the HTTP status for err: the status of the first *Error
// in its chain, or 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status <= 599 {
		return e.Status
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON form of every error reply.
type errorBody struct {
	Error string `json:"error"`
}
