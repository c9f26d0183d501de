//! The part of QueryDeviceBySQL's grammar the emulator answers (platform-api.md §9.2.1):
//!
//! ```text
//! SELECT <* | count(*)> FROM device WHERE <cond> [AND <cond>]… | [OR <cond>]…
//!   [ORDER BY gmt_create | gmt_modified | active_time] [LIMIT k | LIMIT n,k]
//! ```
//!
//! Conditions are `field = 'text'`, `date_field > | < 'yyyy-MM-dd HH:mm:ss.SSS'` (UTC) and
//! `text_field LIKE 'prefix%'`; at most 5, joined all by AND or all by OR (mixing is refused, as
//! their precedence is undocumented), no parentheses. Tag conditions joined by AND bind to one tag.

use super::store::Device;
use crate::wire::{MAX_SQL_CHARS, MAX_SQL_OFFSET, MAX_SQL_ROWS};

/// Why a statement is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SqlError {
    /// `iot.common.InvalidFormattedParameter`.
    Format(String),
    /// `iot.common.InvalidPageParams`.
    Page(String),
}

/// A searchable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    ProductKey,
    IotId,
    Name,
    Nickname,
    Status,
    GmtCreate,
    GmtModified,
    TagName,
    TagValue,
}

impl Field {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "product_key" => Self::ProductKey,
            "iot_id" => Self::IotId,
            "name" => Self::Name,
            "nickname" => Self::Nickname,
            "status" => Self::Status,
            "gmt_create" => Self::GmtCreate,
            "gmt_modified" => Self::GmtModified,
            "tag.tag_name" => Self::TagName,
            "tag.tag_value" => Self::TagValue,
            _ => return None,
        })
    }

    const fn is_date(self) -> bool {
        matches!(self, Self::GmtCreate | Self::GmtModified)
    }

    const fn is_tag(self) -> bool {
        matches!(self, Self::TagName | Self::TagValue)
    }
}

/// A comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Equals(String),
    Prefix(String),
    After(i64),
    Before(i64),
}

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    field: Field,
    test: Test,
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    /// `count(*)` rather than rows.
    pub count: bool,
    conditions: Vec<Condition>,
    any: bool,
    /// Sort by creation (`true`) or modification time; `None`: the emulator's own order.
    pub order_by_create: Option<bool>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(char),
}

fn tokens(sql: &str) -> Result<Vec<Token>, SqlError> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some(end) if end == c => break,
                    Some('\\') => {
                        return Err(format_error("escapes in literals are not supported"));
                    }
                    Some(other) => text.push(other),
                    None => return Err(format_error("a string literal is not closed")),
                }
            }
            out.push(Token::Text(text));
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            // `-` belongs to words so that `LIMIT -1` reads as a bad number.
            let mut word = String::new();
            while let Some(&w) = chars.peek() {
                if w.is_ascii_alphanumeric() || matches!(w, '_' | '.' | '-') {
                    word.push(w);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token::Word(word));
        } else if "*(),=<>".contains(c) {
            chars.next();
            if matches!(c, '<' | '>') && chars.peek() == Some(&'=') {
                return Err(format_error("only =, > and < are supported"));
            }
            out.push(Token::Symbol(c));
        } else {
            return Err(format_error(&format!("unexpected character `{c}`")));
        }
    }
    Ok(out)
}

fn format_error(message: &str) -> SqlError {
    SqlError::Format(format!("The SQL statement is invalid: {message}."))
}

/// Parses a `yyyy-MM-dd HH:mm:ss.SSS` literal (UTC) into epoch milliseconds.
fn parse_time(text: &str) -> Option<i64> {
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", text).ok()?;
    Some(
        civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect_word(&mut self, word: &str) -> Result<(), SqlError> {
        match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(word) => Ok(()),
            _ => Err(format_error(&format!("expected {word}"))),
        }
    }

    fn expect_symbol(&mut self, symbol: char) -> Result<(), SqlError> {
        match self.next() {
            Some(Token::Symbol(s)) if s == symbol => Ok(()),
            _ => Err(format_error(&format!("expected `{symbol}`"))),
        }
    }

    fn number(&mut self) -> Result<u64, SqlError> {
        match self.next() {
            Some(Token::Word(w)) => w
                .parse()
                .map_err(|_| SqlError::Page(format!("The LIMIT `{w}` is not a whole number."))),
            _ => Err(SqlError::Page("LIMIT needs a number.".to_owned())),
        }
    }

    fn condition(&mut self) -> Result<Condition, SqlError> {
        let Some(Token::Word(name)) = self.next() else {
            return Err(format_error("expected a field"));
        };
        let field =
            Field::parse(&name).ok_or_else(|| format_error(&format!("unknown field `{name}`")))?;
        let operator = match self.next() {
            Some(Token::Symbol(c @ ('=' | '<' | '>'))) => c,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => 'l',
            _ => return Err(format_error("expected =, >, < or LIKE")),
        };
        let value = match self.next() {
            Some(Token::Text(text)) => text,
            Some(Token::Word(word)) if word.bytes().all(|b| b.is_ascii_digit()) => word,
            _ => return Err(format_error("expected a quoted value")),
        };
        let test = match operator {
            '=' if field.is_date() => Test::Equals(value),
            '=' => Test::Equals(value),
            '>' | '<' if field.is_date() => {
                let ms = parse_time(&value).ok_or_else(|| {
                    format_error(&format!("`{value}` is not yyyy-MM-dd HH:mm:ss.SSS"))
                })?;
                if operator == '>' {
                    Test::After(ms)
                } else {
                    Test::Before(ms)
                }
            }
            'l' if !field.is_date() => {
                let prefix = value
                    .strip_suffix('%')
                    .filter(|p| !p.contains('%'))
                    .ok_or_else(|| format_error("LIKE matches a prefix only, as 'abc%'"))?;
                Test::Prefix(prefix.to_owned())
            }
            _ => return Err(format_error("this operator does not apply to this field")),
        };
        Ok(Condition { field, test })
    }
}

/// Parses a statement.
pub(crate) fn parse(sql: &str) -> Result<Query, SqlError> {
    if sql.chars().count() > MAX_SQL_CHARS {
        return Err(format_error("it is longer than 400 characters"));
    }
    let mut parser = Parser {
        tokens: tokens(sql)?,
        at: 0,
    };
    parser.expect_word("select")?;
    let count = match parser.next() {
        Some(Token::Symbol('*')) => false,
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("count") => {
            parser.expect_symbol('(')?;
            parser.expect_symbol('*')?;
            parser.expect_symbol(')')?;
            true
        }
        _ => return Err(format_error("select * or count(*)")),
    };
    parser.expect_word("from")?;
    parser.expect_word("device")?;
    parser.expect_word("where")?;
    let mut conditions = vec![parser.condition()?];
    let mut joins = Vec::new();
    while parser.peek_word("and") || parser.peek_word("or") {
        joins.push(parser.peek_word("or"));
        parser.at += 1;
        conditions.push(parser.condition()?);
    }
    if conditions.len() > 5 {
        return Err(format_error("at most 5 conditions"));
    }
    if joins.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(format_error("AND and OR cannot be mixed"));
    }
    let any = joins.first().copied().unwrap_or(false);
    let mut order_by_create = None;
    if parser.peek_word("order") {
        parser.at += 1;
        parser.expect_word("by")?;
        order_by_create = match parser.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("gmt_create") => Some(true),
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("gmt_modified")
                    || w.eq_ignore_ascii_case("active_time") =>
            {
                Some(false)
            }
            _ => {
                return Err(format_error(
                    "ORDER BY takes gmt_create, gmt_modified or active_time",
                ));
            }
        };
    }
    let (mut offset, mut limit) = (0, 20);
    if parser.peek_word("limit") {
        parser.at += 1;
        limit = parser.number()?;
        if matches!(parser.tokens.get(parser.at), Some(Token::Symbol(','))) {
            parser.at += 1;
            offset = limit;
            limit = parser.number()?;
        }
    }
    if parser.at < parser.tokens.len() {
        return Err(format_error("unexpected text after the statement"));
    }
    if limit == 0 || limit > MAX_SQL_ROWS || offset + limit > MAX_SQL_OFFSET {
        return Err(SqlError::Page(
            "LIMIT n,k needs 1 <= k <= 50 and n + k <= 10000.".to_owned(),
        ));
    }
    Ok(Query {
        count,
        conditions,
        any,
        order_by_create,
        offset,
        limit,
    })
}

fn text_test(test: &Test, value: &str) -> bool {
    match test {
        Test::Equals(wanted) => value == wanted,
        Test::Prefix(prefix) => value.starts_with(prefix.as_str()),
        Test::After(_) | Test::Before(_) => false,
    }
}

fn device_test(condition: &Condition, product_key: &str, device: &Device) -> bool {
    let time = |ms: i64| match &condition.test {
        Test::After(bound) => ms > *bound,
        Test::Before(bound) => ms < *bound,
        Test::Equals(text) => parse_time(text) == Some(ms),
        Test::Prefix(_) => false,
    };
    match condition.field {
        Field::ProductKey => text_test(&condition.test, product_key),
        Field::IotId => text_test(&condition.test, &device.iot_id),
        Field::Name => text_test(&condition.test, &device.name),
        Field::Nickname => text_test(&condition.test, device.nickname.as_deref().unwrap_or("")),
        Field::Status => text_test(&condition.test, device.status()),
        Field::GmtCreate => time(device.created_ms),
        Field::GmtModified => time(device.modified_ms),
        Field::TagName => device.tags.keys().any(|k| text_test(&condition.test, k)),
        Field::TagValue => device.tags.values().any(|v| text_test(&condition.test, v)),
    }
}

impl Query {
    /// Whether a device of `product_key` matches the WHERE clause.
    pub(crate) fn matches(&self, product_key: &str, device: &Device) -> bool {
        if self.any {
            return self
                .conditions
                .iter()
                .any(|c| device_test(c, product_key, device));
        }
        let (tag, plain): (Vec<&Condition>, Vec<&Condition>) =
            self.conditions.iter().partition(|c| c.field.is_tag());
        plain.iter().all(|c| device_test(c, product_key, device))
            && (tag.is_empty()
                || device.tags.iter().any(|(key, value)| {
                    tag.iter().all(|c| match c.field {
                        Field::TagName => text_test(&c.test, key),
                        _ => text_test(&c.test, value),
                    })
                }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_iotplan_sends_parse() {
        let query =
            parse("SELECT count(*) FROM device WHERE product_key = 'a1Fleet'").expect("count");
        assert!(query.count);
        let query = parse(
            "select * from device where product_key = \"a1Fleet\" and gmt_create > \"2026-01-01 00:00:00.000\" order by gmt_create limit 9950,50",
        )
        .expect("rows");
        assert_eq!(
            (query.offset, query.limit, query.order_by_create),
            (9950, 50, Some(true))
        );
    }

    #[test]
    fn what_the_platform_refuses_is_refused() {
        let format = |sql: &str| matches!(parse(sql), Err(SqlError::Format(_)));
        let page = |sql: &str| matches!(parse(sql), Err(SqlError::Page(_)));
        assert!(format("SELECT * FROM device"), "WHERE is required");
        assert!(
            format("SELECT * FROM device WHERE name LIKE '%abc'"),
            "prefix LIKE only"
        );
        assert!(format("SELECT * FROM device WHERE name >= 'a'"));
        assert!(format("SELECT * FROM device WHERE (name = 'a')"));
        assert!(format(
            "SELECT * FROM device WHERE name = 'a' AND status = 'x' OR nickname = 'y'"
        ));
        assert!(format("SELECT * FROM device WHERE colour = 'red'"));
        assert!(format(
            "SELECT * FROM device WHERE name = 'a' ORDER BY name"
        ));
        assert!(format(&format!(
            "SELECT * FROM device WHERE name = '{}'",
            "a".repeat(400)
        )));
        assert!(format(
            "SELECT * FROM device WHERE name = 'a' AND name = 'b' AND name = 'c' AND name = 'd' AND name = 'e' AND name = 'f'"
        ));
        assert!(page("SELECT * FROM device WHERE name = 'a' LIMIT 51"));
        assert!(page("SELECT * FROM device WHERE name = 'a' LIMIT 9990,20"));
        assert!(page("SELECT * FROM device WHERE name = 'a' LIMIT -1"));
    }

    #[test]
    fn times_round_trip() {
        let ms = 1_764_000_000_123;
        assert_eq!(parse_time(&crate::wire::sql_time(ms)), Some(ms));
    }
}
