//! JSON response bodies rendered as XML for `Format=XML`: objects become nested elements and
//! arrays repeat their element name, as the platform's XML shape does.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde_json::Value;

fn write_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_value(out, name, item);
            }
        }
        Value::Object(fields) => {
            let _ = write!(out, "<{name}>");
            for (key, field) in fields {
                write_value(out, key, field);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Value::String(text) => {
            let _ = write!(out, "<{name}>{}</{name}>", escape(text.as_str()));
        }
        other => {
            let _ = write!(out, "<{name}>{other}</{name}>");
        }
    }
}

/// Renders `body` under a root element.
pub(crate) fn to_xml(root: &str, body: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    write_value(&mut out, root, body);
    out
}

#[cfg(test)]
mod tests {
    use super::to_xml;

    #[test]
    fn arrays_repeat_and_text_is_escaped() {
        let body = serde_json::json!({"Data": {"DeviceInfo": [{"DeviceName": "a<b"}, {"DeviceName": "c"}]}, "Success": true});
        assert_eq!(
            to_xml("QueryDeviceResponse", &body),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><QueryDeviceResponse><Data><DeviceInfo><DeviceName>a&lt;b</DeviceName></DeviceInfo><DeviceInfo><DeviceName>c</DeviceName></DeviceInfo></Data><Success>true</Success></QueryDeviceResponse>"
        );
    }
}
