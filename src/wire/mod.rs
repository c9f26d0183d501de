//! The IoT Platform protocol (API 2018-01-20, RPC style), once, with no IO.
//!
//! Owns the `Action` catalogue with its quotas, typed requests and their flat wire parameters in
//! both directions (the client writes them, the emulator reads them), response bodies, error
//! envelopes and both signature schemes. Both the client and the emulator stand on this module, so
//! they cannot drift apart silently.

pub mod codes;
pub mod envelope;
pub mod ops;
pub mod params;
pub mod sign;
pub mod time;

pub use time::sql_time;

use std::fmt;

/// The API version every request names.
pub const API_VERSION: &str = "2018-01-20";

macro_rules! actions {
    ($($name:ident => $qps:expr, $write:expr;)*) => {
        /// Every operation iotplan sends or the emulator answers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($name,)* }

        impl Action {
            /// All actions, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The wire name, e.g. `BatchCheckDeviceNames`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)* }
            }

            /// The documented per-account QPS quota.
            #[must_use]
            pub const fn qps(self) -> u32 {
                match self { $(Action::$name => $qps,)* }
            }

            /// Whether the action changes platform state.
            #[must_use]
            pub const fn is_write(self) -> bool {
                match self { $(Action::$name => $write,)* }
            }

            /// Looks an action up by its wire name.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Action> {
                match name { $(stringify!($name) => Some(Action::$name),)* _ => None }
            }
        }
    };
}

actions! {
    BatchCheckDeviceNames => 10, true;
    QueryBatchRegisterDeviceStatus => 30, false;
    BatchRegisterDeviceWithApplyId => 500, true;
    QueryPageByApplyId => 50, false;
    BatchRegisterDevice => 10, true;
    QueryDevice => 50, false;
    BatchQueryDeviceDetail => 5, false;
    BatchGetDeviceState => 50, false;
    DeleteDevice => 50, true;
    BatchUpdateDeviceNickname => 10, true;
    EnableThing => 500, true;
    DisableThing => 500, true;
    SaveDeviceProp => 50, true;
    QueryDeviceProp => 50, false;
    QueryDeviceBySQL => 10, false;
    QueryDeviceByTags => 5, false;
    DeleteDeviceProp => 500, true;
    QueryProduct => 50, false;
    QueryProductList => 50, false;
    CreateProduct => 50, true;
    UpdateProduct => 50, true;
    DeleteProduct => 50, true;
    CreateProductTags => 500, true;
    UpdateProductTags => 500, true;
    DeleteProductTags => 500, true;
    ListProductTags => 50, false;
    QueryDeviceDetail => 50, false;
    QueryDeviceInfo => 50, false;
    GetDeviceStatus => 50, false;
    RegisterDevice => 30, true;
    QueryDeviceStatistics => 50, false;
    CreateDeviceGroup => 500, true;
    UpdateDeviceGroup => 50, true;
    DeleteDeviceGroup => 500, true;
    QueryDeviceGroupList => 100, false;
    QueryDeviceGroupInfo => 30, false;
    QueryDeviceGroupTagList => 50, false;
    SetDeviceGroupTags => 50, true;
    BatchAddDeviceGroupRelations => 50, true;
    BatchDeleteDeviceGroupRelations => 50, true;
    QueryDeviceListByDeviceGroup => 5, false;
    QueryDeviceGroupByDevice => 50, false;
}

impl Action {
    /// The quota that applies to deep pages (`CurrentPage × PageSize ≥ 100,000`), where one exists.
    #[must_use]
    pub const fn deep_page_qps(self) -> Option<u32> {
        match self {
            Action::QueryDevice | Action::QueryProductList => Some(2),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a page starts once `CurrentPage × PageSize` reaches this, the deep-page quota applies.
pub const DEEP_PAGE_OFFSET: u64 = 100_000;

/// Whether a request falls under the deep-page quota: an Action that has one, asked for a page
/// where `CurrentPage × PageSize` (read from `param`, defaults 1 and 10) reaches 100,000.
pub fn is_deep_page<'a>(action: Action, param: impl Fn(&str) -> Option<&'a str>) -> bool {
    let number = |key: &str, default: u64| {
        param(key)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default)
    };
    action.deep_page_qps().is_some()
        && number("CurrentPage", 1).saturating_mul(number("PageSize", 10)) >= DEEP_PAGE_OFFSET
}

/// Past this offset (`CurrentPage × PageSize`), QueryDevice requires a `NextToken`.
pub const NEXT_TOKEN_OFFSET: u64 = 10_000;

/// QueryDevice's `CurrentPage × PageSize` must stay below this, even with a NextToken: about a
/// million devices can be listed, no more.
pub const MAX_LIST_OFFSET: u64 = 1_000_000;

/// Most tags one QueryDeviceByTags matches.
pub const MAX_TAG_FILTERS: usize = 10;

/// Longest QueryDeviceBySQL statement.
pub const MAX_SQL_CHARS: usize = 400;

/// Most rows one QueryDeviceBySQL page holds (`LIMIT n,k`: `k` at most this).
pub const MAX_SQL_ROWS: u64 = 50;

/// QueryDeviceBySQL reads no row past this offset of one WHERE (`n + k` at most this).
pub const MAX_SQL_OFFSET: u64 = 10_000;

/// Most names one BatchCheckDeviceNames accepts; the platform drops the rest silently.
pub const MAX_CHECK_NAMES: usize = 10_000;

/// Largest QueryDevice and QueryPageByApplyId page.
pub const MAX_PAGE_SIZE: u32 = 50;

/// Most names one BatchQueryDeviceDetail takes.
pub const MAX_DETAIL_NAMES: usize = 100;

/// Most devices one BatchGetDeviceState takes.
pub const MAX_STATE_NAMES: usize = 50;

/// Longest nickname BatchCheckDeviceNames takes, in weighted characters (CJK counts 2).
pub const MAX_CHECK_NICKNAME_WEIGHT: usize = 64;

/// Longest nickname BatchUpdateDeviceNickname takes, in weighted characters (CJK counts 2).
pub const MAX_UPDATE_NICKNAME_WEIGHT: usize = 32;

/// Most devices one BatchRegisterDevice creates.
pub const MAX_REGISTER_COUNT: u32 = 10_000;

/// Most entries iotplan puts in one BatchUpdateDeviceNickname.
pub const MAX_NICKNAME_UPDATES: usize = 100;

/// Most devices one BatchAddDeviceGroupRelations or BatchDeleteDeviceGroupRelations takes.
pub const MAX_GROUP_RELATIONS: usize = 200;

/// Most groups a device is in.
pub const MAX_GROUPS_PER_DEVICE: usize = 10;

/// Most groups an account holds.
pub const MAX_GROUPS: usize = 1_000;

/// Deepest group nesting: a top-level group is level 1.
pub const MAX_GROUP_DEPTH: usize = 3;

/// Largest QueryDeviceGroupList page.
pub const MAX_GROUP_PAGE_SIZE: u32 = 200;

/// Largest QueryProductList page.
pub const MAX_PRODUCT_PAGE_SIZE: u32 = 200;

/// Most tags a group holds.
pub const MAX_GROUP_TAGS: usize = 100;

/// Most tags a product holds, and most one product tag call writes.
pub const MAX_PRODUCT_TAGS: usize = 10;

/// Longest group and product description.
pub const MAX_DESCRIPTION_CHARS: usize = 100;

/// Most tags a device holds, and most one SaveDeviceProp sets.
pub const MAX_TAGS: usize = 100;

/// Largest `Props` JSON text SaveDeviceProp accepts, in bytes.
pub const MAX_PROPS_BYTES: usize = 5 * 1024;

/// A tag key the platform reserves and drops.
pub const RESERVED_TAG_KEY: &str = "abc";

/// Checks a DeviceName: 4–32 characters of `A–Z a–z 0–9 - _ @ . :`.
#[must_use]
pub fn is_valid_device_name(name: &str) -> bool {
    (4..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@' | b'.' | b':'))
}

/// Checks the form of a region ID (`cn-shanghai`, `ap-southeast-1`): lowercase ASCII letters and
/// digits in two or more hyphen-separated parts, starting with a letter, at most 40 bytes. It
/// becomes part of the endpoint's host name, so anything else could not resolve.
#[must_use]
pub fn is_valid_region_id(region: &str) -> bool {
    region.len() <= 40
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region.split('-').count() >= 2
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The weighted length of a nickname: ASCII counts 1, anything else (CJK) counts 2.
#[must_use]
pub fn nickname_weight(nickname: &str) -> usize {
    nickname
        .chars()
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum()
}

/// Whether a character may appear in a nickname: ASCII letters, digits, `_`, CJK ideographs, kana.
#[must_use]
pub fn is_nickname_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || matches!(c as u32,
            0x3040..=0x30FF      // Hiragana, Katakana
            | 0x3400..=0x4DBF    // CJK extension A
            | 0x4E00..=0x9FFF    // CJK unified ideographs
            | 0xF900..=0xFAFF    // CJK compatibility ideographs
            | 0x20000..=0x2FA1F) // CJK extensions B onwards
}

/// Checks a nickname against the platform's characters and a weighted length of `4..=max_weight`.
#[must_use]
pub fn is_valid_nickname(nickname: &str, max_weight: usize) -> bool {
    nickname.chars().all(is_nickname_char) && (4..=max_weight).contains(&nickname_weight(nickname))
}

/// Checks a product or group name (they share the rule): ASCII letters, digits, `_` and CJK
/// (counting 2), a weighted length of 4–30.
#[must_use]
pub fn is_valid_product_or_group_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && is_nickname_char(c)))
        && (4..=30).contains(&nickname_weight(name))
}

/// Checks a tag key: letters, digits, `_`, `-`, `.`; not starting with a digit; 2–32 bytes.
#[must_use]
pub fn is_valid_tag_key(key: &str) -> bool {
    (2..=32).contains(&key.len())
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Most characters a tag value may have.
pub const MAX_TAG_VALUE_CHARS: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_name_rules() {
        assert!(is_valid_device_name("light1"));
        assert!(is_valid_device_name("a@b.c:d-e_f"));
        assert!(!is_valid_device_name("ab"));
        assert!(!is_valid_device_name(&"a".repeat(33)));
        assert!(!is_valid_device_name("has space"));
        assert!(!is_valid_device_name("灯灯灯灯"));
    }

    #[test]
    fn nickname_rules_weigh_cjk_double() {
        assert!(is_valid_nickname("智能灯1", 32));
        assert_eq!(nickname_weight("智能灯1"), 7);
        assert!(!is_valid_nickname("a b c d", 32));
        assert!(!is_valid_nickname("a-bcd", 32));
        assert!(!is_valid_nickname("abc", 32));
        assert!(!is_valid_nickname(&"智".repeat(17), 32));
        assert!(is_valid_nickname(&"智".repeat(16), 32));
    }

    #[test]
    fn action_names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(*action));
        }
        assert_eq!(Action::from_name("Nope"), None);
    }
}
