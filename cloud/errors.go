package cloud

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a refused request as Neutron reports it: an HTTP status, the
// exception type (Neutron's exception class name, e.g. "SubnetInUse") and
// its user-visible message. The message texts are Neutron's (neutron-lib's
// exceptions and the L3/IPAM/security-group plugins'), so that scripts and
// users who match on them keep working.
type Error struct {
	Status  int
	Type    string
	Message string
}

// Error returns the message, as Neutron's str(exception) does.
func (e *Error) Error() string { return e.Message }

// MarshalJSON renders the error as Neutron's API fault body:
// {"NeutronError": {"type": T, "message": M, "detail": ""}}.
func (e *Error) MarshalJSON() ([]byte, error) {
	type body struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Detail  string `json:"detail"`
	}
	return json.Marshal(struct {
		NeutronError body `json:"NeutronError"`
	}{body{Type: e.Type, Message: e.Message}})
}

func errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// The HTTP status of each Neutron exception family, as Neutron's API
// fault map has it: NotFound 404, InUse and Conflict 409, BadRequest and
// InvalidInput 400.
func notFound(typ, format string, args ...any) *Error {
	return errorf(http.StatusNotFound, typ, format, args...)
}

func conflict(typ, format string, args ...any) *Error {
	return errorf(http.StatusConflict, typ, format, args...)
}

// badRequest is neutron-lib's BadRequest: "Bad <resource> request: <msg>."
func badRequest(resource, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "BadRequest", "Bad %s request: %s.", resource, fmt.Sprintf(format, args...))
}

// invalidInput is neutron-lib's InvalidInput: "Invalid input for
// operation: <msg>."
func invalidInput(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: %s.", fmt.Sprintf(format, args...))
}

// invalidAttr is the API layer's attribute validation failure.
func invalidAttr(attr, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "HTTPBadRequest", "Invalid input for %s. Reason: %s.", attr, fmt.Sprintf(format, args...))
}

func errNetworkNotFound(id string) *Error {
	return notFound("NetworkNotFound", "Network %s could not be found.", id)
}

func errSubnetNotFound(id string) *Error {
	return notFound("SubnetNotFound", "Subnet %s could not be found.", id)
}

func errPortNotFound(id string) *Error {
	return notFound("PortNotFound", "Port %s could not be found.", id)
}

func errRouterNotFound(id string) *Error {
	return notFound("RouterNotFound", "Router %s could not be found", id)
}

func errFloatingIPNotFound(id string) *Error {
	return notFound("FloatingIPNotFound", "Floating IP %s could not be found", id)
}

func errSecurityGroupNotFound(id string) *Error {
	return notFound("SecurityGroupNotFound", "Security group %s does not exist", id)
}

func errServerNotFound(id string) *Error {
	return notFound("InstanceNotFound", "Instance %s could not be found.", id)
}

func errPortInUse(p *Port) *Error {
	return conflict("PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID)
}

func errIPAllocated(ip fmt.Stringer, subnetID string) *Error {
	return conflict("IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", ip, subnetID)
}

func errIPGeneration(netID string) *Error {
	return conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", netID)
}
