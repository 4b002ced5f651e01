//! The smallest JSON writer `cpx --json` needs (no serde in this crate): values are built
//! in memory and rendered with every string escaped (RFC 8259 §7).

use std::fmt::Write;

/// A JSON value. Object members keep their insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    pub fn uint(n: usize) -> Json {
        Json::Uint(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// `null` for `None`.
    pub fn opt(v: Option<Json>) -> Json {
        v.unwrap_or(Json::Null)
    }

    /// Pretty-printed (two-space indent), with a final newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Uint(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Str(s) => escape_into(s, out),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Json::Obj(members) if members.is_empty() => out.push_str("{}"),
            Json::Obj(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    escape_into(key, out);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A JSON string literal: quotes, backslash and every control character escaped (also DEL
/// and U+2028/U+2029, which some JavaScript consumers choke on).
fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(j: &Json) -> String {
        j.render()
            .lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("")
    }

    #[test]
    fn escapes_every_special_character() {
        let j = Json::str("a\"b\\c\nd\re\tf\u{1}g\u{7f}h\u{2028}é€");
        assert_eq!(
            j.render(),
            "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh\\u2028é€\"\n"
        );
    }

    #[test]
    fn nested_values() {
        let j = Json::Obj(vec![
            (
                "a",
                Json::Arr(vec![Json::Uint(1), Json::uint(2), Json::Null]),
            ),
            ("b", Json::Obj(vec![("c", Json::Bool(true))])),
            ("d", Json::Arr(Vec::new())),
            ("e", Json::Obj(Vec::new())),
            ("f", Json::opt(None)),
        ]);
        assert_eq!(
            compact(&j),
            r#"{"a": [1,2,null],"b": {"c": true},"d": [],"e": {},"f": null}"#
        );
    }

    #[test]
    fn keys_are_escaped_too() {
        let j = Json::Obj(vec![("x\"y", Json::Uint(u64::MAX))]);
        assert_eq!(compact(&j), "{\"x\\\"y\": 18446744073709551615}");
    }
}
