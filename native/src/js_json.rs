//! JSON text exactly as JavaScript's `JSON.stringify` / `String(number)`
//! writes it, for values parsed with sonic-rs. Anything whose JavaScript text
//! this module cannot reproduce with certainty (keys that JavaScript orders
//! first because they look like array indexes, duplicate keys, numbers
//! outside the double range) is reported as `Unsure`, and the caller hands
//! the whole job to the JavaScript encoder.

use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Value};

/// The value has a form whose JavaScript text is not reproduced here.
#[derive(Debug)]
pub struct Unsure(pub &'static str);

/// The JavaScript number a JSON number becomes (`JSON.parse` gives the
/// double nearest to the text; a 64-bit integer converts to that same double).
pub fn js_number(v: &Value) -> Result<f64, Unsure> {
    let n = v.as_number().ok_or(Unsure("not a number"))?;
    let x = if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().ok_or(Unsure("number"))?
    };
    if !x.is_finite() {
        return Err(Unsure("a number outside the double range"));
    }
    Ok(x)
}

/// `String(x)` / `JSON.stringify(x)` of a finite double.
pub fn push_number(out: &mut String, x: f64) {
    if x == 0.0 {
        out.push('0'); // -0 prints as 0
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.push_str(buf.format_finite(x));
}

/// A JSON string literal as `JSON.stringify` writes it (input is valid UTF-8,
/// so there are no lone surrogates to escape).
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Keys JavaScript enumerates before all others (array indexes, in numeric
/// order): treated as unsure whenever a key is all digits.
pub fn index_like(key: &str) -> bool {
    !key.is_empty() && key.len() <= 10 && key.bytes().all(|b| b.is_ascii_digit())
}

/// `JSON.stringify(value)` for a value parsed from JSON.
pub fn push_value(out: &mut String, v: &Value) -> Result<(), Unsure> {
    if v.is_null() {
        out.push_str("null");
    } else if let Some(b) = v.as_bool() {
        out.push_str(if b { "true" } else { "false" });
    } else if v.is_number() {
        push_number(out, js_number(v)?);
    } else if let Some(s) = v.as_str() {
        push_string(out, s);
    } else if let Some(a) = v.as_array() {
        out.push('[');
        for (i, e) in a.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_value(out, e)?;
        }
        out.push(']');
    } else if let Some(o) = v.as_object() {
        check_keys(o.iter().map(|(k, _)| k), o.len())?;
        out.push('{');
        for (i, (k, e)) in o.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_string(out, k);
            out.push(':');
            push_value(out, e)?;
        }
        out.push('}');
    } else {
        return Err(Unsure("an unknown JSON value"));
    }
    Ok(())
}

/// Keys of one object must be distinct and not index-like for their
/// JavaScript order to be their document order.
pub fn check_keys<'a>(keys: impl Iterator<Item = &'a str>, len: usize) -> Result<(), Unsure> {
    let mut small: Vec<&str> = Vec::with_capacity(len);
    for k in keys {
        if index_like(k) {
            return Err(Unsure("an object key that looks like an array index"));
        }
        small.push(k);
    }
    small.sort_unstable();
    if small.windows(2).any(|w| w[0] == w[1]) {
        return Err(Unsure("a duplicate object key"));
    }
    Ok(())
}

/// What a look over a message's raw JSON text finds before it is parsed.
#[derive(Default, Debug)]
pub struct Scan {
    /// Containers nest deeper than the limit (the parser would recurse that deep).
    pub too_deep: bool,
    /// A number token with a minus sign whose value is zero (`-0`, `-0.0`,
    /// `-1e-400`): JavaScript keeps the sign, the parser does not.
    pub negative_zero: bool,
    /// A `\u` escape of a surrogate that is not half of a pair (JavaScript
    /// keeps it; Rust strings cannot hold it).
    pub lone_surrogate: bool,
}

fn hex4(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u16::from_str_radix(s, 16).ok()
}

/// One pass over the text: strings are skipped with memchr, so the cost is
/// mostly per structural character.
pub fn scan(text: &[u8], max_depth: usize) -> Scan {
    let mut out = Scan::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                // To the closing quote, looking at each escape.
                loop {
                    let Some(k) = text.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                        i = text.len(); // unterminated: the parser rejects it
                        break;
                    };
                    i += k;
                    if text[i] == b'"' {
                        break;
                    }
                    if text.get(i + 1) != Some(&b'u') {
                        i += 2;
                        continue;
                    }
                    let unit = hex4(&text[i + 2..]).unwrap_or(0);
                    if (0xd800..0xdc00).contains(&unit) {
                        let low = text.get(i + 6) == Some(&b'\\') && text.get(i + 7) == Some(&b'u') && hex4(&text[i + 8..]).is_some_and(|u| (0xdc00..0xe000).contains(&u));
                        if !low {
                            out.lone_surrogate = true;
                        }
                        i += if low { 12 } else { 6 };
                    } else {
                        if (0xdc00..0xe000).contains(&unit) {
                            out.lone_surrogate = true;
                        }
                        i += 6;
                    }
                }
                i += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    out.too_deep = true;
                    return out;
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' => {
                let start = i;
                i += 1;
                while i < text.len() && matches!(text[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let zero = std::str::from_utf8(&text[start..i]).ok().and_then(|t| t.parse::<f64>().ok()).is_some_and(|x| x == 0.0);
                if zero {
                    out.negative_zero = true;
                }
            }
            _ => i += 1,
        }
    }
    out
}
