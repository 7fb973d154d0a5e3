package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EmbeddedDNS is the address of Docker's DNS server inside every container
// on a user-defined network.
const EmbeddedDNS = "127.0.0.11:53"

// realDNS asks Docker's embedded DNS server for name from inside the
// network namespace of process pid, and returns the answer's rcode. Nothing
// runs in the container: the question is sent from a thread of dlr that
// joined the container's network namespace (setns(2) on /proc/PID/ns/net),
// so images without tools are checked the same. That thread is locked and
// never unlocked, so Go ends it with the goroutine: no other goroutine ever
// runs in the container's namespace.
func (e *Env) realDNS(ctx context.Context, pid int, name string) (int, error) {
	type answer struct {
		rcode int
		err   error
	}
	ch := make(chan answer, 1)
	nsPath := e.Path("/proc/" + strconv.Itoa(pid) + "/ns/net")
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		rcode, err := dnsInNetns(ctx, nsPath, name)
		ch <- answer{rcode, err}
	}()
	select {
	case a := <-ch:
		return a.rcode, a.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// dnsInNetns joins the network namespace at nsPath (on the calling,
// locked thread) and asks 127.0.0.11 once.
func dnsInNetns(ctx context.Context, nsPath, name string) (int, error) {
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", nsPath, err)
	}
	err = unix.Setns(fd, unix.CLONE_NEWNET)
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("joining the network namespace %s: %w", nsPath, err)
	}
	// The socket is made now, on this thread: it belongs to the
	// container's namespace for its whole life.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", EmbeddedDNS)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	q, id, err := DNSQuery(name)
	if err != nil {
		return 0, err
	}
	if _, err := conn.Write(q); err != nil {
		return 0, err
	}
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return 0, err
		}
		if rcode, ok := DNSAnswer(buf[:n], id); ok {
			return rcode, nil
		}
	}
}

// DNSQuery builds a DNS question for name's A record (recursion desired)
// and returns it with its ID.
func DNSQuery(name string) ([]byte, uint16, error) {
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := []byte{idb[0], idb[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return nil, 0, fmt.Errorf("DNS name %q: empty or overlong label", name)
		}
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	if len(q) > 12+255 {
		return nil, 0, errors.New("DNS name too long: " + name)
	}
	q = append(q, 0, 0, 1, 0, 1) // root, type A, class IN
	return q, id, nil
}

// DNSAnswer reports whether msg is an answer (QR set) to the question with
// ID id, and its rcode (0 NOERROR, 3 NXDOMAIN, ...).
func DNSAnswer(msg []byte, id uint16) (rcode int, ok bool) {
	if len(msg) < 12 || binary.BigEndian.Uint16(msg) != id || msg[2]&0x80 == 0 {
		return 0, false
	}
	return int(msg[3] & 0x0f), true
}
