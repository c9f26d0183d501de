//! The platform's error codes, once, and how they classify: the client decides retries and hints
//! from them, and the emulator answers with them, so both sides spell every code the same way.

// Gateway (POP) codes, common to every Alibaba Cloud RPC API, answered with HTTP 4xx/5xx.
/// `Throttling`: The account's QPS quota for the Action is exceeded.
pub const THROTTLING: &str = "Throttling";
/// `Throttling.User`: The user's QPS quota for the Action is exceeded.
pub const THROTTLING_USER: &str = "Throttling.User";
/// `ServiceUnavailable`: The service is briefly unavailable; nothing was changed.
pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
/// `InternalError`: The gateway failed internally.
pub const INTERNAL_ERROR: &str = "InternalError";
/// `UnknownError`: The gateway failed for an unknown reason.
pub const UNKNOWN_ERROR: &str = "UnknownError";
/// `InvalidParameter`: A parameter is malformed or out of range.
pub const INVALID_PARAMETER: &str = "InvalidParameter";
/// `RequestTimeout`: The request body did not arrive in time.
pub const REQUEST_TIMEOUT: &str = "RequestTimeout";
/// `IncompleteSignature`: A signature parameter or header is missing or malformed.
pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignature";
/// `SignatureDoesNotMatch`: The signature does not match the server's calculation.
pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch";
/// `SignatureNonceUsed`: The SignatureNonce was used before (a replay).
pub const SIGNATURE_NONCE_USED: &str = "SignatureNonceUsed";
/// `InvalidAccessKeyId.NotFound`: The AccessKey ID is unknown.
pub const ACCESS_KEY_NOT_FOUND: &str = "InvalidAccessKeyId.NotFound";
/// `InvalidAccessKeyId.Inactive`: The AccessKey ID is disabled.
pub const ACCESS_KEY_INACTIVE: &str = "InvalidAccessKeyId.Inactive";
/// `InvalidTimeStamp.Expired`: The request's Timestamp is more than 15 minutes off.
pub const TIMESTAMP_EXPIRED: &str = "InvalidTimeStamp.Expired";
/// `InvalidTimeStamp.Format`: The request's Timestamp is not ISO 8601 UTC.
pub const TIMESTAMP_FORMAT: &str = "InvalidTimeStamp.Format";
/// `InvalidSecurityToken.Malformed`: The STS SecurityToken is malformed.
pub const SECURITY_TOKEN_MALFORMED: &str = "InvalidSecurityToken.Malformed";
/// `InvalidSecurityToken.MismatchWithAccessKey`: The STS SecurityToken does not belong to the AccessKey ID.
pub const SECURITY_TOKEN_MISMATCH: &str = "InvalidSecurityToken.MismatchWithAccessKey";
/// `InvalidSecurityToken.Expired`: the STS token's lifetime is over; get new credentials.
pub const SECURITY_TOKEN_EXPIRED: &str = "InvalidSecurityToken.Expired";
/// `InvalidSignatureMethod`: The signature method is not one the gateway takes.
pub const SIGNATURE_METHOD: &str = "InvalidSignatureMethod";
/// `InvalidSignatureVersion`: The signature version is not one the gateway takes.
pub const SIGNATURE_VERSION: &str = "InvalidSignatureVersion";
/// `InvalidApi.NotFound`: The Action (or Version) does not exist.
pub const API_NOT_FOUND: &str = "InvalidApi.NotFound";
/// `UnsupportedHTTPMethod`: The HTTP method is not GET or POST.
pub const UNSUPPORTED_HTTP_METHOD: &str = "UnsupportedHTTPMethod";
/// `Forbidden`: The caller may not perform the Action.
pub const FORBIDDEN: &str = "Forbidden";
/// `InvalidRegionId`: The endpoint does not serve the region named by RegionId.
pub const INVALID_REGION: &str = "InvalidRegionId";

// IoT business codes, answered with HTTP 200 and `Success: false`.
/// `iot.device.NotExistedDevice`: The device does not exist.
pub const DEVICE_NOT_EXISTED: &str = "iot.device.NotExistedDevice";
/// `iot.device.DeviceCountExceeded`: More devices than one call takes.
pub const DEVICE_COUNT_EXCEEDED: &str = "iot.device.DeviceCountExceeded";
/// `iot.device.NoneDeviceNameElement`: The call names no device.
pub const NO_DEVICE_NAME: &str = "iot.device.NoneDeviceNameElement";
/// `iot.device.InvalidFormattedDeviceName`: A DeviceName breaks the naming rules.
pub const INVALID_DEVICE_NAME: &str = "iot.device.InvalidFormattedDeviceName";
/// `iot.device.DeviceApplyIsNotFound`: The ApplyId is unknown.
pub const APPLY_NOT_FOUND: &str = "iot.device.DeviceApplyIsNotFound";
/// `iot.device.IncorrentDeviceApplyInfo`: The ApplyId is not in a state that allows the call (the platform's spelling).
pub const APPLY_INFO_INCORRECT: &str = "iot.device.IncorrentDeviceApplyInfo";
/// `iot.device.CreateDeviceTaskIsRunning`: A registration of the product is still running.
pub const CREATE_TASK_RUNNING: &str = "iot.device.CreateDeviceTaskIsRunning";
/// `iot.device.LongDevicePropertiesString`: The tag JSON is longer than SaveDeviceProp takes.
pub const PROPS_TOO_LONG: &str = "iot.device.LongDevicePropertiesString";
/// `iot.device.InvalidFormattedDevicePropertiesString`: The tag JSON is malformed.
pub const PROPS_MALFORMED: &str = "iot.device.InvalidFormattedDevicePropertiesString";
/// `iot.device.NoneDeviceProperties`: The call names no tag.
pub const NO_PROPS: &str = "iot.device.NoneDeviceProperties";
/// `iot.device.TooManyDevicePropertiesPerTime`: More tags than one call or one device takes.
pub const TOO_MANY_PROPS: &str = "iot.device.TooManyDevicePropertiesPerTime";
/// `iot.device.InvalidFormattedDevicePropertyKey`: A tag key breaks the rules.
pub const INVALID_PROP_KEY: &str = "iot.device.InvalidFormattedDevicePropertyKey";
/// `iot.check.InvalidFormattedParameter`: A parameter breaks the service's format rules.
pub const CHECK_INVALID_PARAMETER: &str = "iot.check.InvalidFormattedParameter";
/// `iot.common.InvalidFormattedParameter`: A parameter is malformed.
pub const COMMON_INVALID_PARAMETER: &str = "iot.common.InvalidFormattedParameter";
/// `iot.common.InvalidPageParams`: The page parameters are out of range.
pub const INVALID_PAGE: &str = "iot.common.InvalidPageParams";
/// `iot.common.APINotSupportedInInstance`: The instance does not offer the Action (e.g. QueryDeviceBySQL off Enterprise Edition).
pub const NOT_SUPPORTED_IN_INSTANCE: &str = "iot.common.APINotSupportedInInstance";
/// `iot.prod.NotExistedProduct`: The product does not exist (in this region and instance).
pub const PRODUCT_NOT_EXISTED: &str = "iot.prod.NotExistedProduct";
/// `iot.prod.NullProductKey`: The call names no ProductKey.
pub const NULL_PRODUCT_KEY: &str = "iot.prod.NullProductKey";
/// `iot.prod.InvalidFormattedProductName`: The product name breaks the naming rules.
pub const INVALID_PRODUCT_NAME: &str = "iot.prod.InvalidFormattedProductName";
/// `iot.prod.InvalidNodeType`: The node type is not 0 or 1.
pub const INVALID_NODE_TYPE: &str = "iot.prod.InvalidNodeType";
/// `iot.prod.LongProductDesc`: The product description is too long.
pub const PRODUCT_DESC_TOO_LONG: &str = "iot.prod.LongProductDesc";
/// `iot.prod.InvalidAliyunCommodityCode`: The edition is not iothub or iothub_senior.
pub const INVALID_COMMODITY_CODE: &str = "iot.prod.InvalidAliyunCommodityCode";
/// `iot.prod.AlreadyExistedProductName`: A product of that name exists.
pub const PRODUCT_NAME_EXISTS: &str = "iot.prod.AlreadyExistedProductName";
/// `iot.prod.ProductHasDevices`: DeleteProduct of a product that still has devices (the
/// emulator's code; the platform's is not documented).
pub const PRODUCT_HAS_DEVICES: &str = "iot.prod.ProductHasDevices";
/// `iot.prod.ProductTagCountExceedMax`: a product would hold more than 10 tags (the emulator's).
pub const PRODUCT_TAGS_EXCEEDED: &str = "iot.prod.ProductTagCountExceedMax";
/// `iot.device.AlreadyExistedDeviceName`: RegisterDevice of a name the product has.
pub const DEVICE_NAME_EXISTS: &str = "iot.device.AlreadyExistedDeviceName";
/// `iot.group.NotExistedGroup`: unknown GroupId (group codes are the emulator's: the platform's
/// are not documented).
pub const GROUP_NOT_EXISTED: &str = "iot.group.NotExistedGroup";
/// `iot.group.InvalidFormattedGroupName`: the name breaks the naming rule.
pub const INVALID_GROUP_NAME: &str = "iot.group.InvalidFormattedGroupName";
/// `iot.group.LongGroupDescription`: the description is longer than 100 characters.
pub const GROUP_DESC_TOO_LONG: &str = "iot.group.LongGroupDescription";
/// `iot.group.GroupCountExceedMax`: the account holds 1,000 groups.
pub const GROUP_COUNT_EXCEEDED: &str = "iot.group.GroupCountExceedMax";
/// `iot.group.GroupLevelExceedMax`: the parent is at the third level already.
pub const GROUP_TOO_DEEP: &str = "iot.group.GroupLevelExceedMax";
/// `iot.group.SubGroupNotNull`: DeleteDeviceGroup of a group with sub-groups.
pub const GROUP_HAS_SUBGROUPS: &str = "iot.group.SubGroupNotNull";
/// `iot.system.InstanceNotFound`: The IotInstanceId is unknown.
pub const INSTANCE_NOT_FOUND: &str = "iot.system.InstanceNotFound";
/// `iot.Sre.IotInstanceNotFound`: The IotInstanceId is unknown (the other spelling).
pub const SRE_INSTANCE_NOT_FOUND: &str = "iot.Sre.IotInstanceNotFound";
/// `iot.system.SystemException`: The service failed internally; the call may be repeated.
pub const SYSTEM_EXCEPTION: &str = "iot.system.SystemException";

/// STS: `EntityNotExist.Role`, no role with that ARN.
pub const STS_ROLE_NOT_FOUND: &str = "EntityNotExist.Role";
/// STS: `NoPermission`, the caller may not assume the role.
pub const STS_NO_PERMISSION: &str = "NoPermission";
/// STS: `InvalidParameter.RoleSessionName`.
pub const STS_INVALID_SESSION_NAME: &str = "InvalidParameter.RoleSessionName";
/// STS: `InvalidParameter.DurationSeconds`, outside 900 s up to the role's maximum.
pub const STS_INVALID_DURATION: &str = "InvalidParameter.DurationSeconds";
/// STS: `AuthenticationFail.NoPermission`, no such OIDC provider, or the role does not trust it.
pub const STS_OIDC_NO_PERMISSION: &str = "AuthenticationFail.NoPermission";
/// STS: `AuthenticationFail.OIDCToken.AudienceNotMatch`.
pub const STS_OIDC_AUDIENCE: &str = "AuthenticationFail.OIDCToken.AudienceNotMatch";
/// STS: `AuthenticationFail.OIDCToken.Expired`.
pub const STS_OIDC_EXPIRED: &str = "AuthenticationFail.OIDCToken.Expired";
/// STS: `AuthenticationFail.OIDCToken.Invalid` (malformed, wrong issuer or subject).
pub const STS_OIDC_INVALID: &str = "AuthenticationFail.OIDCToken.Invalid";
/// STS: `AuthenticationFail.OIDCToken.InvalidSignature`.
pub const STS_OIDC_SIGNATURE: &str = "AuthenticationFail.OIDCToken.InvalidSignature";

/// Whether a code is a throttling answer (`Throttling`, `Throttling.User`, `Throttling.Api`…).
#[must_use]
pub fn is_throttling(code: &str) -> bool {
    code.starts_with(THROTTLING)
}

/// Whether a code says the request was turned away before any state changed, or failed in a way
/// the platform documents as safe to repeat.
#[must_use]
pub fn is_transient(code: &str) -> bool {
    is_throttling(code)
        || matches!(
            code,
            SERVICE_UNAVAILABLE
                | INTERNAL_ERROR
                | UNKNOWN_ERROR
                | SYSTEM_EXCEPTION
                | CREATE_TASK_RUNNING
        )
}

/// Whether a code is about the STS SecurityToken (`InvalidSecurityToken.*`).
#[must_use]
pub fn is_security_token(code: &str) -> bool {
    code.starts_with("InvalidSecurityToken")
}

/// Whether a code refuses the caller's permissions (`Forbidden*`, `*PermissionDeny`).
#[must_use]
pub fn is_permission(code: &str) -> bool {
    code.starts_with(FORBIDDEN) || code.ends_with("PermissionDeny")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_every_throttling_code_and_nothing_else() {
        for code in [THROTTLING, THROTTLING_USER, "Throttling.Api"] {
            assert!(is_throttling(code), "{code}");
            assert!(is_transient(code), "{code}");
        }
        for code in [
            SERVICE_UNAVAILABLE,
            SYSTEM_EXCEPTION,
            "iot.system.Throttling",
        ] {
            assert!(!is_throttling(code), "{code}");
        }
    }

    #[test]
    fn only_transient_codes_retry() {
        for code in [
            SERVICE_UNAVAILABLE,
            INTERNAL_ERROR,
            SYSTEM_EXCEPTION,
            CREATE_TASK_RUNNING,
        ] {
            assert!(is_transient(code), "{code}");
        }
        for code in [
            SIGNATURE_DOES_NOT_MATCH,
            DEVICE_NOT_EXISTED,
            INVALID_PARAMETER,
            INVALID_PAGE,
            INVALID_REGION,
        ] {
            assert!(!is_transient(code), "{code}");
        }
    }

    #[test]
    fn token_and_permission_families() {
        assert!(is_security_token(SECURITY_TOKEN_MISMATCH));
        assert!(is_security_token("InvalidSecurityToken.Expired"));
        assert!(is_permission(FORBIDDEN));
        assert!(is_permission("Forbidden.RAM"));
        assert!(is_permission("iot.common.PermissionDeny"));
        assert!(!is_permission(SIGNATURE_DOES_NOT_MATCH));
    }
}
