//! Flat RPC parameters in both directions: writing typed values as `Name.N.Field=value` pairs, and
//! reading them back (lists rebuilt from their 1-based indexes, sorted numerically).

use std::collections::BTreeMap;

/// Parameters of one request as they go on the wire, split by where the SDK puts them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WireParams {
    /// Query-string parameters.
    pub query: Vec<(String, String)>,
    /// Form-body parameters (only BatchCheckDeviceNames has any).
    pub body: Vec<(String, String)>,
}

impl WireParams {
    /// Adds a query parameter.
    pub fn query(&mut self, key: impl Into<String>, value: &impl ToString) {
        self.query.push((key.into(), value.to_string()));
    }

    /// Adds a query parameter when the value is present.
    pub fn query_opt(&mut self, key: &str, value: Option<impl ToString>) {
        if let Some(value) = value {
            self.query(key, &value);
        }
    }

    /// Adds a form-body parameter.
    pub fn body(&mut self, key: impl Into<String>, value: &impl ToString) {
        self.body.push((key.into(), value.to_string()));
    }
}

/// Why a request's parameters could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A required parameter is absent.
    #[error("the parameter {0} is required")]
    Missing(String),
    /// A parameter has a value of the wrong form.
    #[error("the parameter {name} is invalid: {reason}")]
    Invalid {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The decoded, merged parameters of one request (query and form body; the body wins).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// A value, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A value that must be present and not empty.
    ///
    /// # Errors
    /// `ParamError::Missing` when absent or empty.
    pub fn required(&self, key: &str) -> Result<&str, ParamError> {
        match self.get(key) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ParamError::Missing(key.to_owned())),
        }
    }

    /// A value that is present and not empty, else `None`.
    #[must_use]
    pub fn optional(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }

    /// An optional integer.
    ///
    /// # Errors
    /// `ParamError::Invalid` when present but not an integer.
    pub fn int<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ParamError> {
        self.optional(key)
            .map(|value| {
                value.trim().parse().map_err(|_| ParamError::Invalid {
                    name: key.to_owned(),
                    reason: format!("`{value}` is not an integer"),
                })
            })
            .transpose()
    }

    /// A required integer.
    ///
    /// # Errors
    /// `ParamError::Missing` or `ParamError::Invalid`.
    pub fn required_int<T: std::str::FromStr>(&self, key: &str) -> Result<T, ParamError> {
        self.int(key)?
            .ok_or_else(|| ParamError::Missing(key.to_owned()))
    }

    /// An optional boolean, read case-insensitively (the Python SDK sends `True`/`False`).
    ///
    /// # Errors
    /// `ParamError::Invalid` when present but neither true nor false.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ParamError> {
        self.optional(key)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ParamError::Invalid {
                    name: key.to_owned(),
                    reason: format!("`{value}` is not true or false"),
                }),
            })
            .transpose()
    }

    /// Entries `Prefix.N` or `Prefix.N.Field`, grouped by index in numeric order.
    fn indexed(&self, prefix: &str) -> Result<BTreeMap<u32, BTreeMap<&str, &str>>, ParamError> {
        let mut items: BTreeMap<u32, BTreeMap<&str, &str>> = BTreeMap::new();
        let dotted = format!("{prefix}.");
        for (key, value) in self.0.range(dotted.clone()..) {
            let Some(rest) = key.strip_prefix(&dotted) else {
                break;
            };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            let index: u32 = index
                .parse()
                .ok()
                .filter(|n| *n >= 1 && !index.starts_with('0'))
                .ok_or_else(|| ParamError::Invalid {
                    name: key.clone(),
                    reason: "list indexes are whole numbers from 1".to_owned(),
                })?;
            items
                .entry(index)
                .or_default()
                .insert(field, value.as_str());
        }
        Ok(items)
    }

    /// A list of scalars `Prefix.1`, `Prefix.2`, … in index order.
    ///
    /// # Errors
    /// `ParamError::Invalid` on a malformed index or an object entry.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, ParamError> {
        self.indexed(prefix)?
            .into_iter()
            .map(|(index, fields)| {
                fields
                    .get("")
                    .filter(|_| fields.len() == 1)
                    .map(|value| (*value).to_owned())
                    .ok_or_else(|| ParamError::Invalid {
                        name: format!("{prefix}.{index}"),
                        reason: "expected a plain value".to_owned(),
                    })
            })
            .collect()
    }

    /// A list of objects `Prefix.N.Field`, in index order, each as a field map.
    ///
    /// # Errors
    /// `ParamError::Invalid` on a malformed index.
    pub fn object_list(&self, prefix: &str) -> Result<Vec<BTreeMap<String, String>>, ParamError> {
        Ok(self
            .indexed(prefix)?
            .into_values()
            .map(|fields| {
                fields
                    .into_iter()
                    .map(|(field, value)| (field.to_owned(), value.to_owned()))
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn lists_sort_numerically() {
        let p = params(&[
            ("DeviceName.10", "j"),
            ("DeviceName.2", "b"),
            ("DeviceName.1", "a"),
        ]);
        assert_eq!(p.list("DeviceName").expect("list"), ["a", "b", "j"]);
    }

    #[test]
    fn object_lists_group_fields() {
        let p = params(&[
            ("DeviceNameList.2.DeviceName", "b"),
            ("DeviceNameList.1.DeviceName", "a"),
            ("DeviceNameList.1.DeviceNickname", "nick"),
        ]);
        let items = p.object_list("DeviceNameList").expect("objects");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["DeviceNickname"], "nick");
        assert_eq!(items[1]["DeviceName"], "b");
    }

    #[test]
    fn bad_indexes_are_errors() {
        assert!(params(&[("DeviceName.x", "a")]).list("DeviceName").is_err());
        assert!(params(&[("DeviceName.0", "a")]).list("DeviceName").is_err());
        assert!(
            params(&[("DeviceName.01", "a")])
                .list("DeviceName")
                .is_err()
        );
    }

    #[test]
    fn booleans_ignore_case() {
        let p = params(&[("A", "False"), ("B", "TRUE"), ("C", "yes")]);
        assert_eq!(p.bool("A").expect("a"), Some(false));
        assert_eq!(p.bool("B").expect("b"), Some(true));
        assert!(p.bool("C").is_err());
    }
}
