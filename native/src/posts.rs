//! Post messages -> validated cells, by the rules of `src/reddit/normalise.ts`
//! (that file is the reference; `test/ingest/native-encoder.test.ts` checks
//! both give the same files). A message is accepted, rejected (its reason is
//! then worked out by the JavaScript normaliser), or makes the encoder unsure,
//! in which case the whole job goes to the JavaScript encoder.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use crate::js_json::{self, Unsure};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Str,
    Long,
    Double,
    Bool,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "string" => Kind::Str,
            "long" => Kind::Long,
            "double" => Kind::Double,
            "boolean" => Kind::Bool,
            _ => return None,
        })
    }
}

/// One value of a row. Text lives in the batch's arena.
#[derive(Clone, Copy, Debug)]
pub enum Cell {
    Null,
    Str(u32, u32),
    Int(i64),
    F(f64),
    Bool(bool),
}

/// Years 1 to 9999 (normalise.ts MIN_EPOCH_SECONDS / MAX_EPOCH_SECONDS).
const MIN_EPOCH_SECONDS: f64 = -62135596800.0;
const MAX_EPOCH_SECONDS: f64 = 253402300799.0;
const MAX_SAFE_INTEGER: f64 = 9007199254740991.0;

/// `Math.round` (halves toward +infinity).
fn js_round(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

fn epoch_micros(seconds: f64) -> Option<i64> {
    if !(MIN_EPOCH_SECONDS..=MAX_EPOCH_SECONDS).contains(&seconds) {
        return None;
    }
    Some(js_round(seconds * 1e6) as i64)
}

pub struct Fields {
    pub names: Vec<String>,
    pub kinds: Vec<Kind>,
    index: HashMap<String, usize, FxBuildHasher>,
    pub id: usize,
    pub edited: usize,
    pub created_utc: usize,
    pub subreddit: usize,
    pub title: usize,
    pub score: usize,
}

impl Fields {
    pub fn new(fields: Vec<(String, Kind)>) -> Result<Fields, String> {
        let index: HashMap<String, usize, FxBuildHasher> = fields.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
        let find = |n: &str, k: Kind| -> Result<usize, String> {
            match index.get(n) {
                Some(&i) if fields[i].1 == k => Ok(i),
                _ => Err(format!("post fields lack {n} of type {k:?}")),
            }
        };
        Ok(Fields {
            id: find("id", Kind::Str)?,
            edited: find("edited", Kind::Bool)?,
            created_utc: find("created_utc", Kind::Double)?,
            subreddit: find("subreddit", Kind::Str)?,
            title: find("title", Kind::Str)?,
            score: find("score", Kind::Long)?,
            names: fields.iter().map(|(n, _)| n.clone()).collect(),
            kinds: fields.iter().map(|(_, k)| *k).collect(),
            index,
        })
    }
}

/// A key that is not a post field.
const UNKNOWN: usize = usize::MAX;

pub enum Outcome {
    Row,
    Dead,
}

/// Columns of the batch: the post fields, then created_at, edited_at and
/// (with keep) extra_fields; row-major, `width` cells a row.
pub struct Batch<'f> {
    pub fields: &'f Fields,
    pub keep: bool,
    pub max_bytes: usize,
    pub max_nesting: usize,
    pub width: usize,
    pub cells: Vec<Cell>,
    pub arena: Vec<u8>,
    pub rows: usize,
    pub duplicates: u32,
    pub ids: Vec<(u32, u32)>,
    by_id: HashMap<Vec<u8>, usize, FxBuildHasher>,
    slots: Vec<usize>,
    scratch: Vec<Cell>,
    text: String,
    extra: String,
    seen: Vec<u32>,
    stamp: u32,
}

/// The largest buffers kept between jobs (bigger ones are freed).
const KEEP_BYTES: usize = 32 << 20;
/// At most this many jobs' buffers are kept.
const KEEP_SETS: usize = 4;

/// Cells and arenas of finished jobs, reused by the next ones: fresh
/// multi-megabyte buffers cost a page fault per 4 KiB (about 15% of a job's
/// time); kept here they are already mapped. One pool for all threads (any
/// of libuv's threads may run a job), so no more sets are kept than jobs ran
/// at once: peak memory is what concurrent jobs use anyway.
static SPARE: std::sync::Mutex<Vec<(Vec<Cell>, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());

fn reserved<T>(mut v: Vec<T>, n: usize) -> Vec<T> {
    v.clear();
    v.reserve(n);
    v
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let (cells, arena) = (std::mem::take(&mut self.cells), std::mem::take(&mut self.arena));
        if cells.capacity() * std::mem::size_of::<Cell>() > KEEP_BYTES || arena.capacity() > KEEP_BYTES {
            return;
        }
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < KEEP_SETS {
                spare.push((cells, arena));
            }
        }
    }
}

impl<'f> Batch<'f> {
    pub fn new(fields: &'f Fields, keep: bool, max_bytes: usize, max_nesting: usize, capacity_rows: usize, capacity_bytes: usize) -> Self {
        let width = fields.names.len() + 2 + keep as usize;
        let (cells, arena) = SPARE.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
        Batch {
            fields,
            keep,
            max_bytes,
            max_nesting,
            width,
            cells: reserved(cells, capacity_rows * width),
            arena: reserved(arena, capacity_bytes),
            rows: 0,
            duplicates: 0,
            ids: Vec::with_capacity(capacity_rows),
            by_id: HashMap::with_capacity_and_hasher(capacity_rows, FxBuildHasher),
            slots: Vec::with_capacity(128),
            scratch: vec![Cell::Null; width],
            text: String::new(),
            extra: String::new(),
            seen: vec![0; fields.names.len()],
            stamp: 0,
        }
    }

    /// Duplicate ids are resolved within a segment only.
    pub fn start_segment(&mut self) {
        self.by_id.clear();
    }

    pub fn str_at(&self, (at, len): (u32, u32)) -> &str {
        // The arena only ever receives whole UTF-8 strings.
        unsafe { std::str::from_utf8_unchecked(&self.arena[at as usize..(at + len) as usize]) }
    }

    fn put_str(&mut self, s: &str) -> Result<Cell, Unsure> {
        let at = self.arena.len();
        if at + s.len() > u32::MAX as usize {
            return Err(Unsure("more than 4 GiB of text in one job"));
        }
        self.arena.extend_from_slice(s.as_bytes());
        Ok(Cell::Str(at as u32, s.len() as u32))
    }

    /// Coerce a value into a column of kind `kind` (None: the message is rejected).
    fn coerce(&mut self, kind: Kind, v: &Value) -> Result<Option<Cell>, Unsure> {
        if v.is_null() {
            return Ok(Some(Cell::Null));
        }
        Ok(match kind {
            Kind::Str => {
                if let Some(s) = v.as_str() {
                    Some(self.put_str(s)?)
                } else {
                    let mut text = std::mem::take(&mut self.text);
                    text.clear();
                    let r = js_json::push_value(&mut text, v);
                    let cell = r.and_then(|_| self.put_str(&text));
                    self.text = text;
                    Some(cell?)
                }
            }
            Kind::Long => {
                if v.is_number() {
                    let x = js_json::js_number(v)?;
                    if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER {
                        Some(Cell::Int(x as i64))
                    } else {
                        None
                    }
                } else if let Some(s) = v.as_str() {
                    let digits = s.strip_prefix('-').unwrap_or(s);
                    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
                        let n = s.parse::<i64>().map_err(|_| Unsure("long text"))?;
                        if n == 0 && s.starts_with('-') {
                            return Err(Unsure("a negative zero")); // Number("-0") is -0
                        }
                        Some(Cell::Int(n))
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            Kind::Double => {
                if v.is_number() {
                    Some(Cell::F(js_json::js_number(v)?))
                } else if v.is_str() {
                    // JavaScript's Number(text) has rules of its own (hex, blanks...).
                    return Err(Unsure("text in a double column"));
                } else {
                    None
                }
            }
            Kind::Bool => v.as_bool().map(Cell::Bool),
        })
    }

    /// Parse, validate and add one message.
    pub fn add(&mut self, message: &[u8]) -> Result<Outcome, Unsure> {
        if message.len() > self.max_bytes {
            return Ok(Outcome::Dead);
        }
        let Ok(text) = std::str::from_utf8(message) else { return Ok(Outcome::Dead) };
        let scan = js_json::scan(message, self.max_nesting);
        if scan.too_deep {
            return Ok(Outcome::Dead);
        }
        if scan.lone_surrogate {
            return Err(Unsure("a lone surrogate escape"));
        }
        if scan.negative_zero {
            return Err(Unsure("a negative zero"));
        }
        let Ok(post) = sonic_rs::from_str::<Value>(text) else { return Ok(Outcome::Dead) };
        let Some(obj) = post.as_object() else { return Ok(Outcome::Dead) };
        let fields = self.fields;
        let n = fields.names.len();
        // Keys must be distinct (JSON.parse keeps the last value at the first position).
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        // One lookup per key: its column (or UNKNOWN), reused below.
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        let mut unknown = 0usize;
        let mut id: Option<&str> = None;
        for (k, v) in obj.iter() {
            match fields.index.get(k) {
                Some(&i) => {
                    slots.push(i);
                    if self.seen[i] == self.stamp {
                        self.slots = slots;
                        return Err(Unsure("a duplicate key"));
                    }
                    self.seen[i] = self.stamp;
                    if i == fields.id {
                        id = v.as_str();
                    }
                }
                None => {
                    slots.push(UNKNOWN);
                    unknown += 1;
                }
            }
        }
        if unknown > 0 {
            let checked = js_json::check_keys(obj.iter().zip(&slots).filter(|(_, &i)| i == UNKNOWN).map(|((k, _), _)| k), unknown);
            if let Err(e) = checked {
                self.slots = slots;
                return Err(e);
            }
        }
        let id = match id {
            Some(s) if !s.is_empty() => s,
            _ => return Ok(Outcome::Dead),
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.iter_mut().for_each(|c| *c = Cell::Null);
        let arena_mark = self.arena.len();
        let mut extra = std::mem::take(&mut self.extra);
        extra.clear();
        let result = (|| -> Result<bool, Unsure> {
            for ((k, v), &i) in obj.iter().zip(&slots) {
                if i == UNKNOWN {
                    if self.keep {
                        extra.push(if extra.is_empty() { '{' } else { ',' });
                        js_json::push_string(&mut extra, k);
                        extra.push(':');
                        js_json::push_value(&mut extra, v)?;
                    }
                    continue;
                }
                if i == fields.edited && v.is_number() {
                    let Some(us) = epoch_micros(js_json::js_number(v)?) else { return Ok(false) };
                    scratch[i] = Cell::Bool(true);
                    scratch[n + 1] = Cell::Int(us);
                    continue;
                }
                match self.coerce(fields.kinds[i], v)? {
                    Some(c) => scratch[i] = c,
                    None => return Ok(false),
                }
            }
            if let Cell::F(cu) = scratch[fields.created_utc] {
                match epoch_micros(cu) {
                    Some(us) => scratch[n] = Cell::Int(us),
                    None => return Ok(false),
                }
            }
            if self.keep && !extra.is_empty() {
                extra.push('}');
                scratch[n + 2] = self.put_str(&extra)?;
            }
            Ok(true)
        })();
        self.extra = extra;
        self.slots = slots;
        let ok = match result {
            Ok(ok) => ok,
            Err(e) => {
                self.scratch = scratch;
                return Err(e);
            }
        };
        if !ok {
            self.arena.truncate(arena_mark);
            self.scratch = scratch;
            return Ok(Outcome::Dead);
        }
        let row = match self.by_id.get(id.as_bytes()) {
            Some(&row) => {
                self.duplicates += 1;
                row
            }
            None => {
                let row = self.rows;
                self.rows += 1;
                self.by_id.insert(id.as_bytes().to_vec(), row);
                self.cells.resize(self.rows * self.width, Cell::Null);
                row
            }
        };
        self.cells[row * self.width..(row + 1) * self.width].copy_from_slice(&scratch);
        if let Cell::Str(a, l) = scratch[fields.id] {
            if row == self.ids.len() {
                self.ids.push((a, l));
            } else {
                self.ids[row] = (a, l);
            }
        }
        self.scratch = scratch;
        Ok(Outcome::Row)
    }

    pub fn cell(&self, row: usize, col: usize) -> Cell {
        self.cells[row * self.width + col]
    }
}

