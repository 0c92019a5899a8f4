package route

import (
	"errors"
	"syscall"
)

// Error is a kernel answer to a routing request: the errno the kernel
// returns and, when the kernel attaches one, its extended-ack message.
// Error() prints what iproute2 prints for it ("RTNETLINK answers: File
// exists", or "Error: Nexthop has invalid gateway."). errors.Is matches on
// the errno, against another *Error or a syscall.Errno.
type Error struct {
	Errno syscall.Errno
	// Msg is the kernel's extack message, empty when it sends none.
	Msg string
}

// Errors the kernel returns; compare with errors.Is.
var (
	ErrExist           = &Error{Errno: syscall.EEXIST}       // "File exists"
	ErrNoSuchProcess   = &Error{Errno: syscall.ESRCH}        // route not found
	ErrNotFound        = &Error{Errno: syscall.ENOENT}       // rule not found
	ErrInvalid         = &Error{Errno: syscall.EINVAL}       // also blackhole
	ErrNetUnreachable  = &Error{Errno: syscall.ENETUNREACH}  // no route, unreachable rule
	ErrHostUnreachable = &Error{Errno: syscall.EHOSTUNREACH} // unreachable route
	ErrAccess          = &Error{Errno: syscall.EACCES}       // prohibit
	ErrNoDevice        = &Error{Errno: syscall.ENODEV}
	ErrNetDown         = &Error{Errno: syscall.ENETDOWN}
)

// errThrow is the kernel's -EAGAIN: the table had nothing (or a throw
// route); continue with the next rule. It never leaves the package.
var errThrow = &Error{Errno: syscall.EAGAIN}

func (e *Error) Error() string {
	if e.Msg != "" {
		return "Error: " + e.Msg + "."
	}
	return "RTNETLINK answers: " + strerror(e.Errno)
}

// Is matches errors by errno.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Errno == e.Errno
	}
	var n syscall.Errno
	if errors.As(target, &n) {
		return n == e.Errno
	}
	return false
}

// Unwrap exposes the errno.
func (e *Error) Unwrap() error { return e.Errno }

// strerror is glibc's text for errno: Go's with a capital first letter.
func strerror(n syscall.Errno) string {
	s := n.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

func extack(n syscall.Errno, msg string) error { return &Error{Errno: n, Msg: msg} }
