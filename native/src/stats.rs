//! `add.stats` JSON of one data file, as `src/delta/stats.ts` writes it:
//! numRecords, then minValues, maxValues and nullCount for the first
//! `num_indexed` columns. Strings compare by bytes (code points) and are cut
//! to 32 characters (a cut max gets U+10FFFF appended, or no max when that is
//! not an upper bound); timestamps are milliseconds, min rounded down and max
//! up; booleans get only a null count.

use crate::js_json::{push_number, push_string};

pub const STRING_PREFIX_LENGTH: usize = 32;

#[derive(Clone, Copy, PartialEq)]
pub enum StatKind {
    Str,
    Long,
    Double,
    Bool,
    Timestamp,
}

/// Bounds of one column as JSON texts.
pub struct ColumnStats {
    pub null_count: usize,
    pub min: Option<String>,
    pub max: Option<String>,
}

/// A string bound cut to 32 code points that stays a valid bound.
pub fn string_bound(s: &str, max: bool) -> Option<String> {
    let Some((cut, _)) = s.char_indices().nth(STRING_PREFIX_LENGTH) else {
        return Some(s.to_string());
    };
    let prefix = &s[..cut];
    if !max {
        return Some(prefix.to_string());
    }
    let bound = format!("{prefix}\u{10FFFF}");
    if bound.as_bytes() >= s.as_bytes() {
        Some(bound)
    } else {
        None
    }
}

fn days_to_civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// "YYYY-MM-DDTHH:MM:SS.mmmZ" for milliseconds since the epoch (years 1-9999).
pub fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = days_to_civil(days);
    let (h, mi, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

pub fn timestamp_bound(micros: i64, max: bool) -> String {
    let mut ms = micros.div_euclid(1000);
    if max && ms * 1000 < micros {
        ms += 1;
    }
    iso_millis(ms)
}

/// The stats JSON from per-column stats (in schema order; `None`: not indexed).
pub fn stats_json(num_records: usize, names: &[String], stats: &[Option<ColumnStats>]) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("{\"numRecords\":");
    out.push_str(&num_records.to_string());
    for (label, pick) in [("minValues", 0), ("maxValues", 1), ("nullCount", 2)] {
        out.push_str(",\"");
        out.push_str(label);
        out.push_str("\":{");
        let mut first = true;
        for (name, s) in names.iter().zip(stats) {
            let Some(s) = s else { continue };
            let text = match pick {
                0 => s.min.clone(),
                1 => s.max.clone(),
                _ => Some(s.null_count.to_string()),
            };
            let Some(text) = text else { continue };
            if !first {
                out.push(',');
            }
            first = false;
            push_string(&mut out, name);
            out.push(':');
            out.push_str(&text);
        }
        out.push('}');
    }
    out.push('}');
    out
}

/// JSON text of a string bound.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

/// JSON text of a double bound.
pub fn json_number(x: f64) -> String {
    let mut out = String::new();
    push_number(&mut out, x);
    out
}
