package openflow

import "encoding/binary"

// wire10 is how an error travels to an OpenFlow 1.0 peer: a 1.0 type and
// code, or, with nx set, OFPT_ERROR type NXET_VENDOR whose body is struct
// nx_vendor_error (vendor NX, then this type and code) and the request.
type wire10 struct {
	nx        bool
	typ, code uint16
}

// errors10 is Open vSwitch 3.1's OpenFlow 1.0 encoding of every error
// that has one, as `ovs-ofctl print-error NAME` prints it (keyed by the
// 1.3 type and code). The Nicira types are not always the 1.0 type of the
// error's family: OFPBMC_BAD_FIELD is (0,263), OFPBAC_MATCH_INCONSISTENT
// (1,522). An error missing here is unencodable in 1.0, and Open vSwitch
// sends NXBRC_UNENCODABLE_ERROR instead; TestErrors10AgainstOvsOfctl
// checks the table against the installed ovs-ofctl.
var errors10 = map[[2]uint16]wire10{
	{uint16(ErrHelloFailed), HFCIncompatible}: {false, Err10HelloFailed, 0},
	{uint16(ErrHelloFailed), HFCEPerm}:        {false, Err10HelloFailed, 1},

	{uint16(ErrBadRequest), BRCBadVersion}:      {false, Err10BadRequest, 0},
	{uint16(ErrBadRequest), BRCBadType}:         {false, Err10BadRequest, 1},
	{uint16(ErrBadRequest), BRCBadMultipart}:    {false, Err10BadRequest, 2},
	{uint16(ErrBadRequest), BRCBadExperimenter}: {false, Err10BadRequest, 3},
	{uint16(ErrBadRequest), BRCBadExpType}:      {false, Err10BadRequest, 4},
	{uint16(ErrBadRequest), BRCEPerm}:           {false, Err10BadRequest, 5},
	{uint16(ErrBadRequest), BRCBadLen}:          {false, Err10BadRequest, 6},
	{uint16(ErrBadRequest), BRCBufferEmpty}:     {false, Err10BadRequest, 7},
	{uint16(ErrBadRequest), BRCBufferUnknown}:   {false, Err10BadRequest, 8},
	{uint16(ErrBadRequest), BRCBadTableID}:      {true, 1, 512},
	{uint16(ErrBadRequest), BRCIsSlave}:         {false, Err10BadRequest, 5},
	{uint16(ErrBadRequest), BRCBadPort}:         {true, 1, 514},

	{uint16(ErrBadAction), BACBadType}:           {false, Err10BadAction, 0},
	{uint16(ErrBadAction), BACBadLen}:            {false, Err10BadAction, 1},
	{uint16(ErrBadAction), BACBadExperimenter}:   {false, Err10BadAction, 2},
	{uint16(ErrBadAction), BACBadExpType}:        {false, Err10BadAction, 3},
	{uint16(ErrBadAction), BACBadOutPort}:        {false, Err10BadAction, 4},
	{uint16(ErrBadAction), BACBadArgument}:       {false, Err10BadAction, 5},
	{uint16(ErrBadAction), BACEPerm}:             {false, Err10BadAction, 6},
	{uint16(ErrBadAction), BACTooMany}:           {false, Err10BadAction, 7},
	{uint16(ErrBadAction), BACBadQueue}:          {false, Err10BadAction, 8},
	{uint16(ErrBadAction), BACBadOutGroup}:       {true, 2, 9},
	{uint16(ErrBadAction), BACMatchInconsistent}: {true, 1, 522},
	{uint16(ErrBadAction), BACBadSetType}:        {true, 1, 523},
	{uint16(ErrBadAction), BACBadSetLen}:         {true, 1, 524},
	{uint16(ErrBadAction), BACBadSetArgument}:    {true, 1, 525},

	{uint16(ErrBadInstruction), BICUnsupInst}: {true, 2, 257},

	{uint16(ErrBadMatch), BMCBadWildcards}: {true, 1, 262},
	{uint16(ErrBadMatch), BMCBadField}:     {true, 0, 263},
	{uint16(ErrBadMatch), BMCBadValue}:     {true, 1, 258},
	{uint16(ErrBadMatch), BMCBadMask}:      {true, 1, 259},
	{uint16(ErrBadMatch), BMCBadPrereq}:    {true, 1, 260},
	{uint16(ErrBadMatch), BMCDupField}:     {true, 1, 261},

	{uint16(ErrFlowModFailed), FMFCTableFull}:  {false, Err10FlowModFailed, FMFC10AllTablesFull},
	{uint16(ErrFlowModFailed), FMFCOverlap}:    {false, Err10FlowModFailed, FMFC10Overlap},
	{uint16(ErrFlowModFailed), FMFCEPerm}:      {false, Err10FlowModFailed, FMFC10EPerm},
	{uint16(ErrFlowModFailed), FMFCBadCommand}: {false, Err10FlowModFailed, FMFC10BadCommand},
	{uint16(ErrFlowModFailed), FMFCBadFlags}:   {true, 3, 258},

	{uint16(ErrPortModFailed), PMFCBadPort}:   {false, Err10PortModFailed, 0},
	{uint16(ErrPortModFailed), PMFCBadHWAddr}: {false, Err10PortModFailed, 1},

	{uint16(ErrQueueOpFailed), 0}: {false, Err10QueueOpFailed, 0},
	{uint16(ErrQueueOpFailed), 1}: {false, Err10QueueOpFailed, 1},
	{uint16(ErrQueueOpFailed), 2}: {false, Err10QueueOpFailed, 2},

	{uint16(ErrRoleRequestFailed), 2}: {true, 1, 513},

	// Open vSwitch sends these as the bad-property errors of OpenFlow 1.4
	// (OFPBPC_BAD_TYPE, _BAD_LEN, _BAD_VALUE) under their 1.3 numbers.
	{uint16(ErrTableFeaturesFailed), TFFCBadType}:     {true, 13, 2},
	{uint16(ErrTableFeaturesFailed), TFFCBadLen}:      {true, 13, 3},
	{uint16(ErrTableFeaturesFailed), TFFCBadArgument}: {true, 13, 4},
}

// unencodable10 is NXBRC_UNENCODABLE_ERROR: what a 1.0 peer gets for an
// error 1.0 has no code for.
var unencodable10 = wire10{true, Err10BadRequest, niciraErrorUnencodable}

// errorCode10 returns the OpenFlow 1.0 form of the 1.3 error (t, code).
func errorCode10(t ErrorType, code uint16) wire10 {
	if t == ErrGroupModFailed {
		// Group errors reach a 1.0 peer (NXT_GROUP_MOD) with their 1.1
		// type and code inside NXET_VENDOR.
		return wire10{true, uint16(ErrGroupModFailed), code}
	}
	if w, ok := errors10[[2]uint16{uint16(t), code}]; ok {
		return w
	}
	return unencodable10
}

// ErrorName10 names an OpenFlow 1.0 error as Open vSwitch prints it,
// translating its wire type and code (and a Nicira vendor error's inner
// type and code) back; ok is false for a code the table does not know.
func ErrorName10(e *Error) (name string, ok bool) {
	w := wire10{false, e.ErrType, e.Code}
	if e.ErrType == Err10NiciraVendor {
		if len(e.Data) < 8 || binary.BigEndian.Uint32(e.Data) != niciraExperimenterID {
			return "", false
		}
		w = wire10{true, binary.BigEndian.Uint16(e.Data[4:]), binary.BigEndian.Uint16(e.Data[6:])}
		if w == unencodable10 {
			return "NXBRC_UNENCODABLE_ERROR", true
		}
		if w.typ == uint16(ErrGroupModFailed) {
			return ErrorName(ErrGroupModFailed, w.code), true
		}
	}
	if n, ok := names10[w]; ok {
		return n, true
	}
	return "", false
}

// names10 inverts errors10; where several 1.3 errors share a 1.0 code
// (OFPBRC_IS_SLAVE is sent as OFPBRC_EPERM), the 1.0 one names it.
var names10 = func() map[wire10]string {
	m := map[wire10]string{
		{false, Err10BadRequest, 2}:    "OFPBRC_BAD_STAT",
		{false, Err10BadRequest, 3}:    "OFPBRC_BAD_VENDOR",
		{false, Err10BadRequest, 4}:    "OFPBRC_BAD_SUBTYPE",
		{false, Err10BadAction, 2}:     "OFPBAC_BAD_VENDOR",
		{false, Err10BadAction, 3}:     "OFPBAC_BAD_VENDOR_TYPE",
		{false, Err10FlowModFailed, 3}: "OFPFMFC_BAD_EMERG_TIMEOUT",
		{false, Err10FlowModFailed, 5}: "OFPFMFC_UNSUPPORTED",
		{false, Err10BadRequest, 5}:    "OFPBRC_EPERM",
		{true, 13, 2}:                  "OFPBPC_BAD_TYPE",
		{true, 13, 3}:                  "OFPBPC_BAD_LEN",
		{true, 13, 4}:                  "OFPBPC_BAD_VALUE",
	}
	for k, w := range errors10 {
		if _, dup := m[w]; !dup {
			m[w] = ErrorName(ErrorType(k[0]), k[1])
		}
	}
	return m
}()
