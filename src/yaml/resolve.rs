//! What a plain (unquoted) YAML scalar means, the way Kubernetes reads it.
//!
//! kubectl and the API server read manifests with a YAML 1.1 resolver (go-yaml v2 behind
//! sigs.k8s.io/yaml): `0644` is the octal number 420, `yes`/`on` are booleans, `1_000` is 1000.
//! A YAML 1.2 reader would keep `0644` as a string and a Secret volume's `defaultMode: 0644`
//! would be rejected, so gitops resolves plain scalars exactly like kubectl does.

use serde_json::{Number, Value};

/// The value of a plain scalar under YAML 1.1 rules.
pub fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    // go-yaml v2 drops `_` digit separators before reading a number.
    let digits = text.replace('_', "");
    if let Some(number) = integer(&digits).or_else(|| float(&digits)) {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

/// True when a string written without quotes would read back as something else
/// (a number, boolean or null) under YAML 1.1 or YAML 1.2 rules.
pub fn needs_quotes_to_stay_string(text: &str) -> bool {
    !matches!(plain_scalar(text), Value::String(_)) || is_special_float(text)
}

fn is_special_float(text: &str) -> bool {
    let t = text.trim_start_matches(['+', '-']);
    matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN")
}

/// Integers as Go's strconv.ParseInt(s, 0, 64) reads them: decimal, `0x` hex,
/// `0o` or leading-zero octal, `0b` binary, with an optional sign.
fn integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or((magnitude == 1u64 << 63).then_some(i64::MIN))?;
        Some(Number::from(value))
    } else {
        Some(Number::from(magnitude))
    }
}

/// Floats in the form go-yaml v2 accepts: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn float(text: &str) -> Option<Number> {
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == start {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_scalars_like_kubectl() {
        let cases = [
            ("0644", json!(420)),
            ("0o644", json!(420)),
            ("0x1F", json!(31)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("-12", json!(-12)),
            ("+3", json!(3)),
            ("08", json!(8.0)), // not octal, so go-yaml reads it as a float
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            (".5", json!(0.5)),
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("~", json!(null)),
            ("nginx:1.25", json!("nginx:1.25")),
            ("1.2.3", json!("1.2.3")),
            ("-", json!("-")),
            ("12345678901234567890", json!(12345678901234567890u64)),
            ("2024-01-01", json!("2024-01-01")),
        ];
        for (text, expected) in cases {
            assert_eq!(plain_scalar(text), expected, "plain scalar {text:?}");
        }
    }

    #[test]
    fn knows_which_strings_need_quotes() {
        for text in [
            "yes", "0644", "1_000", "true", "null", "", ".inf", "-.nan", "1e3",
        ] {
            assert!(needs_quotes_to_stay_string(text), "{text:?} must be quoted");
        }
        for text in ["web", "nginx:1.25", "1.2.3", "08x", "v1"] {
            assert!(
                !needs_quotes_to_stay_string(text),
                "{text:?} needs no quotes"
            );
        }
    }
}
