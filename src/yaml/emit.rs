//! Writes JSON values as block-style YAML that kubectl, kustomize and helm read back unchanged.
//!
//! Strings that a YAML 1.1 reader would take for something else (`yes`, `0644`, `1_000`) are
//! quoted; multi-line strings become literal blocks so that embedded config stays readable.

use serde_json::{Map, Value};

use super::resolve::needs_quotes_to_stay_string;

/// Appends one document (without a `---` separator) to `out`.
pub fn write_document(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_sequence(out, items, 0, false),
        scalar => {
            write_scalar(out, scalar, 0);
            out.push('\n');
        }
    }
}

/// The document as a YAML string.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_document(&mut out, value);
    out
}

fn indent(out: &mut String, width: usize) {
    out.extend(std::iter::repeat_n(' ', width));
}

/// YAML readers (libyaml, go-yaml, yaml-rust2) accept an implicit `key:` only when the `:`
/// comes within 1024 characters of the key's start; longer keys are written as `? key`.
const MAX_IMPLICIT_KEY_CHARS: usize = 1000;

/// `inline_first`: the first entry continues a line already started (after `- `).
fn write_mapping(out: &mut String, map: &Map<String, Value>, width: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            indent(out, width);
        }
        let key_start = out.len();
        write_key(out, key);
        if out[key_start..].chars().count() > MAX_IMPLICIT_KEY_CHARS {
            // `? key` on its own line, then `:` at the same indentation.
            out.insert_str(key_start, "? ");
            out.push('\n');
            indent(out, width);
        }
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_mapping(out, inner, width + 2, false);
            }
            // kubectl's style: list items at the same indentation as their key.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_sequence(out, items, width, false);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, width + 2);
                out.push('\n');
            }
        }
    }
}

fn write_sequence(out: &mut String, items: &[Value], width: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            indent(out, width);
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => write_mapping(out, inner, width + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_sequence(out, inner, width + 2, true),
            scalar => {
                write_scalar(out, scalar, width + 2);
                out.push('\n');
            }
        }
    }
}

fn write_key(out: &mut String, key: &str) {
    if key == "<<" || !is_plain_safe(key) {
        push_quoted(out, key);
    } else {
        out.push_str(key);
    }
}

/// Scalars and empty collections; `block_width` is the indentation of a literal block's lines.
fn write_scalar(out: &mut String, value: &Value, block_width: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s, block_width),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(out: &mut String, s: &str, block_width: usize) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if fits_literal_block(s) {
        write_literal_block(out, s, block_width);
    } else {
        push_quoted(out, s);
    }
}

/// JSON's string escapes are valid in a YAML double-quoted scalar.
fn push_quoted(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

fn is_plain_safe(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    // `-`, `?` and `:` may start a plain scalar when a non-space follows (`--flag`).
    let second = s.chars().nth(1);
    let indicator_start = match first {
        '-' | '?' | ':' => second.is_none_or(char::is_whitespace),
        _ => ",[]{}#&*!|>'\"%@`".contains(first),
    };
    !indicator_start
        && !first.is_whitespace()
        && !last.is_whitespace()
        && last != ':'
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.chars().any(char::is_control)
        && !needs_quotes_to_stay_string(s)
}

fn fits_literal_block(s: &str) -> bool {
    let Some(first_text_line) = s.split('\n').find(|line| !line.is_empty()) else {
        return false;
    };
    // A first line starting with a space would need an indentation indicator: quote instead.
    s.contains('\n')
        && !first_text_line.starts_with([' ', '\t'])
        && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn write_literal_block(out: &mut String, s: &str, width: usize) {
    let body = s.trim_end_matches('\n');
    let trailing_newlines = s.len() - body.len();
    out.push_str(match trailing_newlines {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, width);
            out.push_str(line);
        }
    }
    for _ in 1..trailing_newlines {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load::load_documents;
    use serde_json::json;

    fn round_trip(value: Value) {
        let text = to_string(&value);
        let back = load_documents(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.len(), 1, "{text}");
        assert_eq!(back[0].value, value, "\n{text}");
    }

    #[test]
    fn writes_kubectl_style_yaml() {
        let value = json!({"kind": "Deployment", "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}});
        assert_eq!(
            to_string(&value),
            "kind: Deployment\nspec:\n  containers:\n  - name: web\n    ports:\n    - containerPort: 80\n"
        );
    }

    #[test]
    fn ambiguous_strings_survive_a_round_trip() {
        round_trip(json!({
            "a": "yes", "b": "0644", "c": "1_000", "d": "", "e": "null", "f": " padded ",
            "g": "- item", "g2": "--flag", "g3": "-", "g4": "?x", "g5": ":",  "h": "key: value", "i": "x #y", "j": "on", "k": "1.5", "<<": "merge",
            "l": "tab\there", "m": "emoji ✓", "n": "trailing:", "o": "@at", "p": "\u{1}ctl",
            "q": 420, "r": 1.5, "s": true, "t": null, "u": [], "v": {}, "w": [[1, 2], [{"x": [3]}]],
        }));
    }

    #[test]
    fn keys_too_long_for_an_implicit_key_are_explicit() {
        // Found by fuzzing: a JSON key of 1,100 characters was written as `key:`, which no
        // YAML reader reads back (implicit keys end within 1024 characters).
        let long = "k".repeat(1_100);
        let quoted = "\u{13}".repeat(200);
        let value = json!({
            "a": {&long: {"x": 1}, &quoted: [1, {"y": 2}], "short": "v"},
            "list": [{&long: "first"}, {"b": 1, &long: "|x"}],
            &long: "multi\nline\n",
        });
        let text = to_string(&value);
        assert!(
            text.contains(&format!("  ? {long}\n  :\n    x: 1\n")),
            "{text}"
        );
        round_trip(value);
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let value = json!({"data": {"nginx.conf": "server {\n  listen 80;\n}\n", "strip": "a\nb", "keep": "a\n\n\n", "lead": "\n\nx\n", "space": "  indented\nx"}});
        let text = to_string(&value);
        assert!(
            text.contains("nginx.conf: |\n    server {\n      listen 80;\n    }\n"),
            "{text}"
        );
        round_trip(value);
        round_trip(json!([{"script": "#!/bin/sh\necho hi\n"}, "a\nb"]));
    }
}
