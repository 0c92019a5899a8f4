// Package tapestry is a whole virtual network in one Go binary, in userspace:
// OpenFlow switches like Open vSwitch, Linux-like hosts and routers, netfilter
// with iptables syntax, a Neutron-like cloud model, an SDN controller and one
// tracer that follows a packet through all of it.
//
// The binary is cmd/tapestry; docs/architecture.md describes the layers. This
// package holds no code, only the test that keeps those layers apart.
package tapestry
