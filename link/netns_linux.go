package link

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetnsDir is where `ip netns add` bind-mounts named network namespaces.
const NetnsDir = "/run/netns"

// FindTAP attaches to the TAP device called name wherever it is: first in the
// daemon's own network namespace, then in each named namespace under
// NetnsDir. It returns the TAP and the namespace path it was found in ("" for
// the daemon's own).
//
// This is what lets a restarted daemon pick its ports up again. In the seed
// experiment the user moves tap0 into ns0 after adding it to the bridge; a
// TAP keeps working across that move only while a descriptor is attached, and
// a restart closes the descriptor. The kernel resolves TUNSETIFF's name in
// the calling thread's namespace (tun_set_iff uses the current net
// namespace), so attaching from inside ns0 finds the device; the descriptor
// then works from any namespace.
func FindTAP(name string) (*TAP, string, error) {
	t, err := OpenTAP(name, false)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return t, "", err
	}
	nss, _ := filepath.Glob(filepath.Join(NetnsDir, "*"))
	for _, ns := range nss {
		t, found, nerr := openTAPIn(ns, name)
		if found {
			return t, ns, nerr
		}
	}
	return nil, "", err
}

// openTAPIn attaches to name inside the namespace at nsPath. found is false
// when no interface of that name exists there.
func openTAPIn(nsPath, name string) (t *TAP, found bool, err error) {
	if err := checkName(name); err != nil {
		return nil, false, err
	}
	err = inNetns(nsPath, func() error {
		// net.InterfaceByName asks netlink through a socket made on this
		// thread, so it sees the namespace the thread is in. sysfs would
		// not: it shows the namespace it was mounted in.
		if _, lerr := net.InterfaceByName(name); lerr != nil {
			return nil
		}
		found = true
		fd, aerr := attachTAP(name)
		if aerr != nil {
			return aerr
		}
		t = newTAP(name, fd)
		return nil
	})
	return t, found, err
}

// attachTAP runs TUNSETIFF for an existing device without reading its flags
// from sysfs. The kernel refuses (EINVAL) a non-TAP device and a
// multi_queue mismatch, so trying without and then with IFF_MULTI_QUEUE
// attaches to any TAP and to nothing else. IFF_TUN_EXCL is never set, so a
// device that vanished meanwhile is not silently created.
func attachTAP(name string) (int, error) {
	var last error
	for _, mq := range []uint16{0, unix.IFF_MULTI_QUEUE} {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return -1, fmt.Errorf("link: tap %s: open /dev/net/tun: %w", name, err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("link: tap %s: %w", name, err)
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR | mq)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			last = tunsetiffError(name, err)
			continue
		}
		return fd, nil
	}
	return -1, last
}

// inNetns runs fn on a thread that has joined the network namespace at
// nsPath. If the thread cannot return to its own namespace it is left locked
// so the runtime discards it instead of reusing it in the wrong namespace.
func inNetns(nsPath string, fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("link: own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("link: network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("link: enter network namespace %s: %w", nsPath, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("link: leave network namespace %s: %w", nsPath, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
