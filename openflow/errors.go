package openflow

import (
	"errors"
	"fmt"
)

// ErrorType is ofp_error_msg.type in OpenFlow 1.3 numbering (§7.4.4).
type ErrorType uint16

// Error types (OpenFlow 1.3). OpenFlow 1.0 numbers some differently; see
// ErrorCodeFor.
const (
	ErrHelloFailed         ErrorType = 0
	ErrBadRequest          ErrorType = 1
	ErrBadAction           ErrorType = 2
	ErrBadInstruction      ErrorType = 3
	ErrBadMatch            ErrorType = 4
	ErrFlowModFailed       ErrorType = 5
	ErrGroupModFailed      ErrorType = 6
	ErrPortModFailed       ErrorType = 7
	ErrTableModFailed      ErrorType = 8
	ErrQueueOpFailed       ErrorType = 9
	ErrSwitchConfigFailed  ErrorType = 10
	ErrRoleRequestFailed   ErrorType = 11
	ErrMeterModFailed      ErrorType = 12
	ErrTableFeaturesFailed ErrorType = 13
	ErrExperimenter        ErrorType = 0xffff
)

// OpenFlow 1.0 error types (OpenFlow 1.0 §5.4.4).
const (
	Err10HelloFailed   uint16 = 0
	Err10BadRequest    uint16 = 1
	Err10BadAction     uint16 = 2
	Err10FlowModFailed uint16 = 3
	Err10PortModFailed uint16 = 4
	Err10QueueOpFailed uint16 = 5
	// Err10NiciraVendor is NXET_VENDOR: Open vSwitch wraps errors OpenFlow 1.0
	// lacks in it, followed by struct nx_vendor_error.
	Err10NiciraVendor uint16 = 0xb0c2
)

// OFPET_HELLO_FAILED codes.
const (
	HFCIncompatible uint16 = 0
	HFCEPerm        uint16 = 1
)

// OFPET_BAD_REQUEST codes (1.3; 0..8 are the same in 1.0, where 2 is
// BAD_STAT, 3 BAD_VENDOR and 4 BAD_SUBTYPE).
const (
	BRCBadVersion      uint16 = 0
	BRCBadType         uint16 = 1
	BRCBadMultipart    uint16 = 2 // OFPBRC_BAD_STAT in 1.0
	BRCBadExperimenter uint16 = 3 // OFPBRC_BAD_VENDOR in 1.0
	BRCBadExpType      uint16 = 4 // OFPBRC_BAD_SUBTYPE in 1.0
	BRCEPerm           uint16 = 5
	BRCBadLen          uint16 = 6
	BRCBufferEmpty     uint16 = 7
	BRCBufferUnknown   uint16 = 8
	BRCBadTableID      uint16 = 9
	BRCIsSlave         uint16 = 10
	BRCBadPort         uint16 = 11
	BRCBadPacket       uint16 = 12
	BRCMultipartBufOvf uint16 = 13
)

// OFPET_BAD_ACTION codes (1.3; 0..8 are the same in 1.0 with VENDOR for
// EXPERIMENTER).
const (
	BACBadType             uint16 = 0
	BACBadLen              uint16 = 1
	BACBadExperimenter     uint16 = 2
	BACBadExpType          uint16 = 3
	BACBadOutPort          uint16 = 4
	BACBadArgument         uint16 = 5
	BACEPerm               uint16 = 6
	BACTooMany             uint16 = 7
	BACBadQueue            uint16 = 8
	BACBadOutGroup         uint16 = 9
	BACMatchInconsistent   uint16 = 10
	BACUnsupportedOrder    uint16 = 11
	BACBadTag              uint16 = 12
	BACBadSetType          uint16 = 13
	BACBadSetLen           uint16 = 14
	BACBadSetArgument      uint16 = 15
	bacBadSetMaskONF       uint16 = 4250 // ONF experimenter code used for 1.3
	bicDupInstONF          uint16 = 2600 // ONF experimenter code used for 1.3
	onfExperimenterID             = 0x4f4e4600
	niciraExperimenterID          = 0x00002320
	niciraErrorUnencodable        = 521
)

// OFPET_BAD_INSTRUCTION codes.
const (
	BICUnknownInst       uint16 = 0
	BICUnsupInst         uint16 = 1
	BICBadTableID        uint16 = 2
	BICUnsupMetadata     uint16 = 3
	BICUnsupMetadataMask uint16 = 4
	BICBadExperimenter   uint16 = 5
	BICBadExpType        uint16 = 6
	BICBadLen            uint16 = 7
	BICEPerm             uint16 = 8
	// BICDupInst is OpenFlow 1.4's (3,9); Open vSwitch sends it in 1.3 as the
	// ONF experimenter error 2600, and so do we (see ErrorCodeFor).
	BICDupInst uint16 = 9
)

// OFPET_BAD_MATCH codes.
const (
	BMCBadType         uint16 = 0
	BMCBadLen          uint16 = 1
	BMCBadTag          uint16 = 2
	BMCBadDlAddrMask   uint16 = 3
	BMCBadNwAddrMask   uint16 = 4
	BMCBadWildcards    uint16 = 5
	BMCBadField        uint16 = 6
	BMCBadValue        uint16 = 7
	BMCBadMask         uint16 = 8
	BMCBadPrereq       uint16 = 9
	BMCDupField        uint16 = 10
	BMCEPerm           uint16 = 11
	bmcCount                  = 12
	flowModFailedCount        = 8
)

// OFPET_FLOW_MOD_FAILED codes (1.3).
const (
	FMFCUnknown    uint16 = 0
	FMFCTableFull  uint16 = 1
	FMFCBadTableID uint16 = 2
	FMFCOverlap    uint16 = 3
	FMFCEPerm      uint16 = 4
	FMFCBadTimeout uint16 = 5
	FMFCBadCommand uint16 = 6
	FMFCBadFlags   uint16 = 7
)

// OFPET_FLOW_MOD_FAILED codes in OpenFlow 1.0.
const (
	FMFC10AllTablesFull   uint16 = 0
	FMFC10Overlap         uint16 = 1
	FMFC10EPerm           uint16 = 2
	FMFC10BadEmergTimeout uint16 = 3
	FMFC10BadCommand      uint16 = 4
	FMFC10Unsupported     uint16 = 5
)

// OFPET_GROUP_MOD_FAILED codes.
const (
	GMFCGroupExists         uint16 = 0
	GMFCInvalidGroup        uint16 = 1
	GMFCWeightUnsupported   uint16 = 2
	GMFCOutOfGroups         uint16 = 3
	GMFCOutOfBuckets        uint16 = 4
	GMFCChainingUnsupported uint16 = 5
	GMFCWatchUnsupported    uint16 = 6
	GMFCLoop                uint16 = 7
	GMFCUnknownGroup        uint16 = 8
	GMFCChainedGroup        uint16 = 9
	GMFCBadType             uint16 = 10
	GMFCBadCommand          uint16 = 11
	GMFCBadBucket           uint16 = 12
	GMFCBadWatch            uint16 = 13
	GMFCEPerm               uint16 = 14
)

// OFPET_PORT_MOD_FAILED codes (0 and 1 also in 1.0).
const (
	PMFCBadPort      uint16 = 0
	PMFCBadHWAddr    uint16 = 1
	PMFCBadConfig    uint16 = 2
	PMFCBadAdvertise uint16 = 3
	PMFCEPerm        uint16 = 4
)

// OFPET_TABLE_MOD_FAILED codes.
const (
	TMFCBadTable  uint16 = 0
	TMFCBadConfig uint16 = 1
	TMFCEPerm     uint16 = 2
)

// OFPET_QUEUE_OP_FAILED codes (same in 1.0).
const (
	QOFCBadPort  uint16 = 0
	QOFCBadQueue uint16 = 1
	QOFCEPerm    uint16 = 2
)

// OFPET_SWITCH_CONFIG_FAILED codes.
const (
	SCFCBadFlags uint16 = 0
	SCFCBadLen   uint16 = 1
	SCFCEPerm    uint16 = 2
)

// OFPET_ROLE_REQUEST_FAILED codes.
const (
	RRFCStale   uint16 = 0
	RRFCUnsup   uint16 = 1
	RRFCBadRole uint16 = 2
)

// OFPET_METER_MOD_FAILED codes.
const (
	MMFCUnknown      uint16 = 0
	MMFCMeterExists  uint16 = 1
	MMFCInvalidMeter uint16 = 2
	MMFCUnknownMeter uint16 = 3
	MMFCBadCommand   uint16 = 4
	MMFCBadFlags     uint16 = 5
	MMFCBadRate      uint16 = 6
	MMFCBadBurst     uint16 = 7
	MMFCBadBand      uint16 = 8
	MMFCBadBandValue uint16 = 9
	MMFCOutOfMeters  uint16 = 10
	MMFCOutOfBands   uint16 = 11
)

// OFPET_TABLE_FEATURES_FAILED codes.
const (
	TFFCBadTable    uint16 = 0
	TFFCBadMetadata uint16 = 1
	TFFCBadType     uint16 = 2
	TFFCBadLen      uint16 = 3
	TFFCBadArgument uint16 = 4
	TFFCEPerm       uint16 = 5
)

var errorTypeNames = [...]string{
	"OFPET_HELLO_FAILED", "OFPET_BAD_REQUEST", "OFPET_BAD_ACTION", "OFPET_BAD_INSTRUCTION",
	"OFPET_BAD_MATCH", "OFPET_FLOW_MOD_FAILED", "OFPET_GROUP_MOD_FAILED", "OFPET_PORT_MOD_FAILED",
	"OFPET_TABLE_MOD_FAILED", "OFPET_QUEUE_OP_FAILED", "OFPET_SWITCH_CONFIG_FAILED",
	"OFPET_ROLE_REQUEST_FAILED", "OFPET_METER_MOD_FAILED", "OFPET_TABLE_FEATURES_FAILED",
}

var errorCodeNames = map[ErrorType][]string{
	ErrHelloFailed: {"OFPHFC_INCOMPATIBLE", "OFPHFC_EPERM"},
	ErrBadRequest: {"OFPBRC_BAD_VERSION", "OFPBRC_BAD_TYPE", "OFPBRC_BAD_MULTIPART",
		"OFPBRC_BAD_EXPERIMENTER", "OFPBRC_BAD_EXP_TYPE", "OFPBRC_EPERM", "OFPBRC_BAD_LEN",
		"OFPBRC_BUFFER_EMPTY", "OFPBRC_BUFFER_UNKNOWN", "OFPBRC_BAD_TABLE_ID", "OFPBRC_IS_SLAVE",
		"OFPBRC_BAD_PORT", "OFPBRC_BAD_PACKET", "OFPBRC_MULTIPART_BUFFER_OVERFLOW"},
	ErrBadAction: {"OFPBAC_BAD_TYPE", "OFPBAC_BAD_LEN", "OFPBAC_BAD_EXPERIMENTER",
		"OFPBAC_BAD_EXP_TYPE", "OFPBAC_BAD_OUT_PORT", "OFPBAC_BAD_ARGUMENT", "OFPBAC_EPERM",
		"OFPBAC_TOO_MANY", "OFPBAC_BAD_QUEUE", "OFPBAC_BAD_OUT_GROUP", "OFPBAC_MATCH_INCONSISTENT",
		"OFPBAC_UNSUPPORTED_ORDER", "OFPBAC_BAD_TAG", "OFPBAC_BAD_SET_TYPE", "OFPBAC_BAD_SET_LEN",
		"OFPBAC_BAD_SET_ARGUMENT"},
	ErrBadInstruction: {"OFPBIC_UNKNOWN_INST", "OFPBIC_UNSUP_INST", "OFPBIC_BAD_TABLE_ID",
		"OFPBIC_UNSUP_METADATA", "OFPBIC_UNSUP_METADATA_MASK", "OFPBIC_BAD_EXPERIMENTER",
		"OFPBIC_BAD_EXP_TYPE", "OFPBIC_BAD_LEN", "OFPBIC_EPERM", "OFPBIC_DUP_INST"},
	ErrBadMatch: {"OFPBMC_BAD_TYPE", "OFPBMC_BAD_LEN", "OFPBMC_BAD_TAG", "OFPBMC_BAD_DL_ADDR_MASK",
		"OFPBMC_BAD_NW_ADDR_MASK", "OFPBMC_BAD_WILDCARDS", "OFPBMC_BAD_FIELD", "OFPBMC_BAD_VALUE",
		"OFPBMC_BAD_MASK", "OFPBMC_BAD_PREREQ", "OFPBMC_DUP_FIELD", "OFPBMC_EPERM"},
	ErrFlowModFailed: {"OFPFMFC_UNKNOWN", "OFPFMFC_TABLE_FULL", "OFPFMFC_BAD_TABLE_ID",
		"OFPFMFC_OVERLAP", "OFPFMFC_EPERM", "OFPFMFC_BAD_TIMEOUT", "OFPFMFC_BAD_COMMAND",
		"OFPFMFC_BAD_FLAGS"},
	ErrGroupModFailed: {"OFPGMFC_GROUP_EXISTS", "OFPGMFC_INVALID_GROUP", "OFPGMFC_WEIGHT_UNSUPPORTED",
		"OFPGMFC_OUT_OF_GROUPS", "OFPGMFC_OUT_OF_BUCKETS", "OFPGMFC_CHAINING_UNSUPPORTED",
		"OFPGMFC_WATCH_UNSUPPORTED", "OFPGMFC_LOOP", "OFPGMFC_UNKNOWN_GROUP", "OFPGMFC_CHAINED_GROUP",
		"OFPGMFC_BAD_TYPE", "OFPGMFC_BAD_COMMAND", "OFPGMFC_BAD_BUCKET", "OFPGMFC_BAD_WATCH",
		"OFPGMFC_EPERM"},
	ErrPortModFailed:      {"OFPPMFC_BAD_PORT", "OFPPMFC_BAD_HW_ADDR", "OFPPMFC_BAD_CONFIG", "OFPPMFC_BAD_ADVERTISE", "OFPPMFC_EPERM"},
	ErrTableModFailed:     {"OFPTMFC_BAD_TABLE", "OFPTMFC_BAD_CONFIG", "OFPTMFC_EPERM"},
	ErrQueueOpFailed:      {"OFPQOFC_BAD_PORT", "OFPQOFC_BAD_QUEUE", "OFPQOFC_EPERM"},
	ErrSwitchConfigFailed: {"OFPSCFC_BAD_FLAGS", "OFPSCFC_BAD_LEN", "OFPSCFC_EPERM"},
	ErrRoleRequestFailed:  {"OFPRRFC_STALE", "OFPRRFC_UNSUP", "OFPRRFC_BAD_ROLE"},
	ErrMeterModFailed: {"OFPMMFC_UNKNOWN", "OFPMMFC_METER_EXISTS", "OFPMMFC_INVALID_METER",
		"OFPMMFC_UNKNOWN_METER", "OFPMMFC_BAD_COMMAND", "OFPMMFC_BAD_FLAGS", "OFPMMFC_BAD_RATE",
		"OFPMMFC_BAD_BURST", "OFPMMFC_BAD_BAND", "OFPMMFC_BAD_BAND_VALUE", "OFPMMFC_OUT_OF_METERS",
		"OFPMMFC_OUT_OF_BANDS"},
	ErrTableFeaturesFailed: {"OFPTFFC_BAD_TABLE", "OFPTFFC_BAD_METADATA", "OFPTFFC_BAD_TYPE",
		"OFPTFFC_BAD_LEN", "OFPTFFC_BAD_ARGUMENT", "OFPTFFC_EPERM"},
}

// String returns the OFPET_ name.
func (t ErrorType) String() string {
	if int(t) < len(errorTypeNames) {
		return errorTypeNames[t]
	}
	if t == ErrExperimenter {
		return "OFPET_EXPERIMENTER"
	}
	return fmt.Sprintf("OFPET_%d", uint16(t))
}

// ErrorName returns the spec name of an OpenFlow 1.3 (type, code) pair, for
// example "OFPBMC_BAD_PREREQ".
func ErrorName(t ErrorType, code uint16) string {
	if names := errorCodeNames[t]; int(code) < len(names) {
		return names[code]
	}
	return fmt.Sprintf("%v(%d)", t, code)
}

// CodecError is what Decode returns for a message it rejects. Type and Code
// are the OpenFlow 1.3 error the switch should answer with (OpenFlow 1.3
// §7.4.4); ErrorCodeFor translates them for OpenFlow 1.0. The connection
// survives such errors: the message was framed correctly.
type CodecError struct {
	Type   ErrorType
	Code   uint16
	Reason string
}

func (e *CodecError) Error() string {
	return "openflow: " + ErrorName(e.Type, e.Code) + ": " + e.Reason
}

// ErrorCode returns the OpenFlow 1.3 error type and code.
func (e *CodecError) ErrorCode() (ErrorType, uint16) { return e.Type, e.Code }

// Is makes errors.Is match any CodecError with the same type and code.
func (e *CodecError) Is(target error) bool {
	t, ok := target.(*CodecError)
	return ok && t.Type == e.Type && t.Code == e.Code
}

func errorf(t ErrorType, code uint16, format string, args ...any) error {
	return &CodecError{Type: t, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf extracts the OpenFlow error an error maps to; ok is false for
// errors that do not come from the codec.
func ErrorCodeOf(err error) (t ErrorType, code uint16, ok bool) {
	var ce *CodecError
	if errors.As(err, &ce) {
		return ce.Type, ce.Code, true
	}
	return 0, 0, false
}

// ErrorFor builds the OFPT_ERROR a switch sends in reply to a request it
// rejected with err: the type and code for version, and, as the spec asks
// (OpenFlow 1.3 §7.4.4), at least 64 bytes of the offending request.
func ErrorFor(version uint8, err error, request []byte) *Error {
	t, code, ok := ErrorCodeOf(err)
	if !ok {
		t, code = ErrBadRequest, BRCEPerm
	}
	if len(request) > 64 {
		request = request[:64]
	}
	data := append([]byte(nil), request...)
	if version == Version10 {
		w := errorCode10(t, code)
		if w.nx {
			// struct nx_vendor_error: vendor, type, code, then the request.
			body := put16(put16(put32(nil, niciraExperimenterID), w.typ), w.code)
			return &Error{ErrType: Err10NiciraVendor, Code: nxvcVendorError, Data: append(body, data...)}
		}
		return &Error{ErrType: w.typ, Code: w.code, Data: data}
	}
	wt, wc, exp := ErrorCodeFor(version, t, code)
	if exp != 0 {
		return &Error{ErrType: 0xffff, Code: wc, Experimenter: exp, Data: data}
	}
	return &Error{ErrType: wt, Code: wc, Data: data}
}

// nxvcVendorError is NXVC_VENDOR_ERROR, the code of an NXET_VENDOR error.
const nxvcVendorError = 0

// ErrorCodeFor translates an OpenFlow 1.3 error into the wire type and code of
// version, following Open vSwitch's ofp-errors table. For OpenFlow 1.0 errors
// the spec lacks, wireType is Err10NiciraVendor and code is the Nicira code
// (ErrorFor builds the nx_vendor_error body). exp is non-zero when the error
// travels as an experimenter error (OFPBIC_DUP_INST in 1.3 is ONF's 2600).
func ErrorCodeFor(version uint8, t ErrorType, code uint16) (wireType, wireCode uint16, exp uint32) {
	if version != Version10 {
		switch {
		case t == ErrBadInstruction && code == BICDupInst:
			return 0xffff, bicDupInstONF, onfExperimenterID
		}
		return uint16(t), code, 0
	}
	w := errorCode10(t, code)
	if w.nx {
		return Err10NiciraVendor, w.code, 0
	}
	return w.typ, w.code, 0
}
