// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Names and errno values for Result Reasons, States, Operations and
 * Revocation Reasons.  One table per enumeration so that a name and its
 * errno cannot drift apart.  Pure tables: no client (the text of a failed
 * operation, kmip_failure_text(), is the client's: client.c).
 */
#include <errno.h>
#include <stddef.h>

#include "kmip/kmip.h"

struct reason_info {
	uint32_t value;
	const char *name;
	int err;
};

/*
 * 1.x and 2.x values share one numbering; 0x0B and 0x0E are "Reserved" in
 * 2.x but 1.x servers (PyKMIP) still send Illegal Operation.
 */
static const struct reason_info reasons[] = {
	{ 0x01, "Item Not Found", -ENOENT },
	{ 0x02, "Response Too Large", -EMSGSIZE },
	{ 0x03, "Authentication Not Successful", -EKEYREJECTED },
	{ 0x04, "Invalid Message", -EPROTO },
	{ 0x05, "Operation Not Supported", -EOPNOTSUPP },
	{ 0x06, "Missing Data", -EINVAL },
	{ 0x07, "Invalid Field", -EINVAL },
	{ 0x08, "Feature Not Supported", -EOPNOTSUPP },
	{ 0x09, "Operation Canceled By Requester", -ECANCELED },
	{ 0x0A, "Cryptographic Failure", -EIO },
	{ 0x0B, "Illegal Operation", -EPERM },
	{ 0x0C, "Permission Denied", -EPERM },
	{ 0x0D, "Object Archived", -EIO },
	{ 0x0E, "Index Out Of Bounds", -EINVAL },
	{ 0x0F, "Application Namespace Not Supported", -EOPNOTSUPP },
	{ 0x10, "Key Format Type Not Supported", -EOPNOTSUPP },
	{ 0x11, "Key Compression Type Not Supported", -EOPNOTSUPP },
	{ 0x12, "Encoding Option Error", -EOPNOTSUPP },
	{ 0x13, "Key Value Not Present", -ENODATA },
	{ 0x14, "Attestation Required", -EACCES },
	{ 0x15, "Attestation Failed", -EACCES },
	{ 0x16, "Sensitive", -EPERM },
	{ 0x17, "Not Extractable", -EPERM },
	{ 0x18, "Object Already Exists", -EEXIST },
	{ 0x19, "Invalid Ticket", -EACCES },
	{ 0x1A, "Usage Limit Exceeded", -EPERM },
	{ 0x1B, "Numeric Range", -EINVAL },
	{ 0x1C, "Invalid Data Type", -EPROTO },
	{ 0x1D, "Read Only Attribute", -EPERM },
	{ 0x1E, "Multi Valued Attribute", -EINVAL },
	{ 0x1F, "Unsupported Attribute", -EOPNOTSUPP },
	{ 0x20, "Attribute Instance Not Found", -ENODATA },
	{ 0x21, "Attribute Not Found", -ENODATA },
	{ 0x22, "Attribute Read Only", -EPERM },
	{ 0x23, "Attribute Single Valued", -EINVAL },
	{ 0x24, "Bad Cryptographic Parameters", -EINVAL },
	{ 0x25, "Bad Password", -EACCES },
	{ 0x26, "Codec Error", -EPROTO },
	{ 0x28, "Illegal Object Type", -EINVAL },
	{ 0x29, "Incompatible Cryptographic Usage Mask", -EPERM },
	{ 0x2A, "Internal Server Error", -EIO },
	{ 0x2B, "Invalid Asynchronous Correlation Value", -EINVAL },
	{ 0x2C, "Invalid Attribute", -EINVAL },
	{ 0x2D, "Invalid Attribute Value", -EINVAL },
	{ 0x2E, "Invalid Correlation Value", -EINVAL },
	{ 0x2F, "Invalid CSR", -EINVAL },
	{ 0x30, "Invalid Object Type", -EINVAL },
	{ 0x32, "Key Wrap Type Not Supported", -EOPNOTSUPP },
	{ 0x34, "Missing Initialization Vector", -EINVAL },
	{ 0x35, "Non Unique Name Attribute", -EEXIST },
	{ 0x36, "Object Destroyed", -ENOENT },
	{ 0x37, "Object Not Found", -ENOENT },
	{ 0x39, "Not Authorised", -EPERM },
	{ 0x3A, "Server Limit Exceeded", -EAGAIN },
	{ 0x3B, "Unknown Enumeration", -EPROTO },
	{ 0x3C, "Unknown Message Extension", -EPROTO },
	{ 0x3D, "Unknown Tag", -EPROTO },
	{ 0x3E, "Unsupported Cryptographic Parameters", -EOPNOTSUPP },
	{ 0x3F, "Unsupported Protocol Version", -EPROTONOSUPPORT },
	{ 0x40, "Wrapping Object Archived", -ENOKEY },
	{ 0x41, "Wrapping Object Destroyed", -ENOKEY },
	{ 0x42, "Wrapping Object Not Found", -ENOKEY },
	{ 0x43, "Wrong Key Lifecycle State", -EKEYREVOKED },
	{ 0x44, "Protection Storage Unavailable", -EIO },
	{ 0x45, "PKCS#11 Codec Error", -EPROTO },
	{ 0x46, "PKCS#11 Invalid Function", -EOPNOTSUPP },
	{ 0x47, "PKCS#11 Invalid Interface", -EOPNOTSUPP },
	{ 0x48, "Private Protection Storage Unavailable", -EIO },
	{ 0x49, "Public Protection Storage Unavailable", -EIO },
	{ 0x4A, "Unknown Object Group", -ENOENT },
	{ 0x4B, "Constraint Violation", -EINVAL },
	{ 0x4C, "Duplicate Process Request", -EINVAL },
	{ 0x100, "General Failure", -EIO },
};

static const struct reason_info *reason_find(uint32_t v)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].value == v)
			return &reasons[i];
	return NULL;
}

const char *kmip_reason_name(uint32_t reason)
{
	const struct reason_info *ri = reason_find(reason);

	if (ri)
		return ri->name;
	return (reason & 0x80000000u) ? "Vendor Extension Reason" : "Unknown Reason";
}

int kmip_reason_errno(uint32_t reason)
{
	const struct reason_info *ri = reason_find(reason);

	return ri ? ri->err : -EIO;
}

const char *kmip_state_name(int state)
{
	static const char *const names[] = {
		[KMIP_STATE_PRE_ACTIVE] = "Pre-Active",
		[KMIP_STATE_ACTIVE] = "Active",
		[KMIP_STATE_DEACTIVATED] = "Deactivated",
		[KMIP_STATE_COMPROMISED] = "Compromised",
		[KMIP_STATE_DESTROYED] = "Destroyed",
		[KMIP_STATE_DESTROYED_COMPROMISED] = "Destroyed Compromised",
	};

	if (state < KMIP_STATE_PRE_ACTIVE || state > KMIP_STATE_DESTROYED_COMPROMISED)
		return "Unknown State";
	return names[state];
}

const char *kmip_operation_name(uint32_t op)
{
	switch (op) {
	case KMIP_OP_CREATE: return "Create";
	case 0x02: return "Create Key Pair";
	case KMIP_OP_REGISTER: return "Register";
	case KMIP_OP_REKEY: return "Re-key";
	case 0x05: return "Derive Key";
	case 0x06: return "Certify";
	case 0x07: return "Re-certify";
	case KMIP_OP_LOCATE: return "Locate";
	case 0x09: return "Check";
	case KMIP_OP_GET: return "Get";
	case KMIP_OP_GET_ATTRIBUTES: return "Get Attributes";
	case 0x0C: return "Get Attribute List";
	case KMIP_OP_ADD_ATTRIBUTE: return "Add Attribute";
	case 0x0E: return "Modify Attribute";
	case 0x0F: return "Delete Attribute";
	case 0x10: return "Obtain Lease";
	case 0x11: return "Get Usage Allocation";
	case KMIP_OP_ACTIVATE: return "Activate";
	case KMIP_OP_REVOKE: return "Revoke";
	case KMIP_OP_DESTROY: return "Destroy";
	case 0x15: return "Archive";
	case 0x16: return "Recover";
	case 0x17: return "Validate";
	case KMIP_OP_QUERY: return "Query";
	case 0x19: return "Cancel";
	case 0x1A: return "Poll";
	case 0x1B: return "Notify";
	case 0x1C: return "Put";
	case 0x1D: return "Re-key Key Pair";
	case KMIP_OP_DISCOVER_VERSIONS: return "Discover Versions";
	case KMIP_OP_ENCRYPT: return "Encrypt";
	case KMIP_OP_DECRYPT: return "Decrypt";
	case 0x21: return "Sign";
	case 0x22: return "Signature Verify";
	case 0x23: return "MAC";
	case 0x24: return "MAC Verify";
	case 0x25: return "RNG Retrieve";
	case 0x26: return "RNG Seed";
	case 0x27: return "Hash";
	case 0x28: return "Create Split Key";
	case 0x29: return "Join Split Key";
	case 0x2A: return "Import";
	case 0x2B: return "Export";
	case 0x2C: return "Log";
	case 0x2D: return "Login";
	case 0x2E: return "Logout";
	case 0x2F: return "Delegated Login";
	case 0x30: return "Adjust Attribute";
	case 0x31: return "Set Attribute";
	case 0x32: return "Set Endpoint Role";
	case 0x33: return "PKCS#11";
	case 0x34: return "Interop";
	case 0x35: return "Re-Provision";
	case 0x36: return "Set Defaults";
	case 0x37: return "Set Constraints";
	case 0x38: return "Get Constraints";
	case 0x39: return "Query Asynchronous Requests";
	case 0x3A: return "Process";
	case 0x3B: return "Ping";
	default: return "Unknown Operation";
	}
}

const char *kmip_revocation_reason_name(uint32_t reason)
{
	switch (reason) {
	case KMIP_REVOKE_UNSPECIFIED: return "Unspecified";
	case KMIP_REVOKE_KEY_COMPROMISE: return "Key Compromise";
	case KMIP_REVOKE_CA_COMPROMISE: return "CA Compromise";
	case KMIP_REVOKE_AFFILIATION_CHANGED: return "Affiliation Changed";
	case KMIP_REVOKE_SUPERSEDED: return "Superseded";
	case KMIP_REVOKE_CESSATION_OF_OPERATION: return "Cessation of Operation";
	case KMIP_REVOKE_PRIVILEGE_WITHDRAWN: return "Privilege Withdrawn";
	default: return "Unknown Revocation Reason";
	}
}
