//! reddit-stream's native hot path: a job of Kafka message values (Reddit
//! posts as JSON) -> validated columns -> one Parquet file and its Delta
//! stats, on a libuv worker thread, with no JavaScript objects per post.
//!
//! It follows `src/ingest/post-batch.ts` (`encodePostBatch`) for the plain
//! post table (no partition columns, the post schema): the JavaScript encoder
//! stays the reference and handles every other case. Rejected messages are
//! returned by index only; JavaScript works out their reasons. When a job
//! holds something this module cannot reproduce exactly, the result says so
//! (`unsure`) and JavaScript encodes the job instead.

mod js_json;
mod posts;
mod stats;

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use posts::{Batch, Cell, Fields, Kind, Outcome};
use stats::{json_number, json_string, string_bound, timestamp_bound, ColumnStats};

/// Encoder for one post schema (the fields of `POST_FIELDS`, in order).
#[napi]
pub struct PostEncoder {
    fields: Arc<Fields>,
}

#[napi(object)]
pub struct EncodeOptions {
    /// Keep unknown fields in `extra_fields` (else drop them).
    pub keep: bool,
    pub max_message_bytes: u32,
    /// Deepest JSON nesting accepted (normalise.ts MAX_NESTING).
    pub max_nesting: u32,
    /// snappy | zstd | gzip | uncompressed
    pub codec: String,
    /// Leaf columns with stats (negative: all).
    pub num_indexed_cols: i32,
    pub with_ids: bool,
    pub created_by: String,
}

#[napi(object)]
pub struct FirstRow {
    pub subreddit: Option<String>,
    pub title: Option<String>,
    pub score: Option<i64>,
    pub created_utc: Option<f64>,
}

#[napi(object)]
#[derive(Default)]
pub struct EncodeOutput {
    /// Why the job must be encoded by JavaScript instead (then nothing else is set).
    pub unsure: Option<String>,
    /// Set on the JavaScript thread (`resolve`) from the bytes `compute` made.
    pub parquet: Option<Buffer>,
    pub stats: Option<String>,
    pub rows: u32,
    pub duplicates: u32,
    /// Indexes of rejected messages.
    pub dead: Vec<u32>,
    pub first_rows: Vec<FirstRow>,
    pub ids: Option<Vec<String>>,
    pub segment_rows: Option<Vec<u32>>,
}

pub struct EncodeTask {
    fields: Arc<Fields>,
    data: Uint8Array,
    ends: Uint32Array,
    segments: Uint32Array,
    options: EncodeOptions,
}

/// A job's result off the JavaScript thread: everything but the Parquet
/// bytes, which become a JavaScript Buffer in `resolve`.
pub struct Encoded(EncodeOutput, Option<Vec<u8>>);

#[napi]
impl PostEncoder {
    /// `fields`: [name, type] pairs with type string | long | double | boolean.
    #[napi(constructor)]
    pub fn new(fields: Vec<Vec<String>>) -> Result<Self> {
        let mut list = Vec::with_capacity(fields.len());
        for f in fields {
            let (Some(name), Some(kind)) = (f.first(), f.get(1).and_then(|t| Kind::parse(t))) else {
                return Err(Error::from_reason(format!("bad post field {f:?}")));
            };
            list.push((name.clone(), kind));
        }
        Ok(PostEncoder { fields: Arc::new(Fields::new(list).map_err(Error::from_reason)?) })
    }

    /// Encode a job on a libuv thread.
    #[napi(ts_return_type = "Promise<EncodeOutput>")]
    pub fn encode(&self, data: Uint8Array, ends: Uint32Array, segments: Uint32Array, options: EncodeOptions) -> AsyncTask<EncodeTask> {
        AsyncTask::new(EncodeTask { fields: self.fields.clone(), data, ends, segments, options })
    }
}

impl Task for EncodeTask {
    type Output = Encoded;
    type JsValue = EncodeOutput;

    fn compute(&mut self) -> Result<Encoded> {
        let out = encode_job(&self.fields, &self.data, &self.ends, &self.segments, &self.options).map_err(Error::from_reason);
        release_free_memory();
        out
    }

    fn resolve(&mut self, _env: Env, Encoded(mut out, parquet): Encoded) -> Result<EncodeOutput> {
        out.parquet = parquet.map(Buffer::from);
        Ok(out)
    }
}

/// glibc keeps one malloc arena per libuv thread and holds on to what a job
/// freed: RSS grew by ~60 MB per busy thread (bench/encode-native.ts). Giving
/// free pages back after each job keeps it near the live data. (mimalloc as
/// the allocator was measured too and held more.)
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        malloc_trim(0);
    }
}

/// Fix glibc's mmap threshold (default: dynamic, 128 KiB rising to 32 MiB).
/// Each free of a large mmapped block raises the dynamic threshold to its
/// size, after which blocks up to that size (fetch chunks, batch buffers,
/// Parquet pages) come from the arenas, where freed memory in the middle of a
/// heap stays resident. With a fixed threshold such blocks are mapped and
/// unmapped, so a freed one is given back at once: 45 MB less peak RSS in
/// `npm run bench:kafka`, same throughput. Process-wide: the service calls it
/// when it starts, a library user may not want it. Returns whether glibc
/// took the setting (false on other C libraries).
#[napi]
pub fn fix_mmap_threshold(bytes: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_MMAP_THRESHOLD: i32 = -3;
        return mallopt(M_MMAP_THRESHOLD, bytes.min(i32::MAX as u32) as i32) == 1;
    }
    #[allow(unreachable_code)]
    {
        let _ = bytes;
        false
    }
}

fn unsure(reason: &str) -> Encoded {
    Encoded(EncodeOutput { unsure: Some(reason.to_string()), ..Default::default() }, None)
}

fn encode_job(fields: &Fields, data: &[u8], ends: &[u32], segments: &[u32], o: &EncodeOptions) -> std::result::Result<Encoded, String> {
    let mut batch = Batch::new(fields, o.keep, o.max_message_bytes as usize, o.max_nesting as usize, ends.len(), data.len());
    let mut dead = Vec::new();
    let mut segment_rows = Vec::with_capacity(segments.len());
    let mut index = 0usize;
    for &count in segments {
        batch.start_segment();
        let before = batch.rows;
        for _ in 0..count {
            let start = if index == 0 { 0 } else { ends[index - 1] as usize };
            let end = ends[index] as usize;
            if start > end || end > data.len() {
                return Err(format!("message {index} lies outside the job's data"));
            }
            match batch.add(&data[start..end]) {
                Ok(Outcome::Row) => {}
                Ok(Outcome::Dead) => dead.push(index as u32),
                Err(e) => return Ok(unsure(e.0)),
            }
            index += 1;
        }
        segment_rows.push((batch.rows - before) as u32);
    }
    if index != ends.len() {
        return Err(format!("segments count {index} messages, the job has {}", ends.len()));
    }
    let first_rows = (0..batch.rows.min(3))
        .map(|r| {
            let text = |c: Cell| match c {
                Cell::Str(a, l) => Some(batch.str_at((a, l)).to_string()),
                _ => None,
            };
            FirstRow {
                subreddit: text(batch.cell(r, fields.subreddit)),
                title: text(batch.cell(r, fields.title)),
                score: match batch.cell(r, fields.score) {
                    Cell::Int(v) => Some(v),
                    _ => None,
                },
                created_utc: match batch.cell(r, fields.created_utc) {
                    Cell::F(v) => Some(v),
                    _ => None,
                },
            }
        })
        .collect();
    let ids = o.with_ids.then(|| batch.ids.iter().map(|&r| batch.str_at(r).to_string()).collect());
    let (parquet, stats) = if batch.rows == 0 { (None, None) } else {
        let (p, s) = write_file(&batch, o)?;
        (Some(p), Some(s))
    };
    let out = EncodeOutput {
        stats,
        rows: batch.rows as u32,
        duplicates: batch.duplicates,
        dead,
        first_rows,
        ids,
        segment_rows: o.with_ids.then_some(segment_rows),
        ..Default::default()
    };
    Ok(Encoded(out, parquet))
}

/// Column names and kinds of the table: post fields, created_at, edited_at, extra_fields.
fn table_columns(batch: &Batch) -> Vec<(String, stats::StatKind)> {
    use stats::StatKind as S;
    let mut cols: Vec<(String, S)> = batch
        .fields
        .names
        .iter()
        .zip(&batch.fields.kinds)
        .map(|(n, k)| (n.clone(), match k { Kind::Str => S::Str, Kind::Long => S::Long, Kind::Double => S::Double, Kind::Bool => S::Bool }))
        .collect();
    cols.push(("created_at".into(), S::Timestamp));
    cols.push(("edited_at".into(), S::Timestamp));
    if batch.keep {
        cols.push(("extra_fields".into(), S::Str));
    }
    cols
}

fn column_stats(batch: &Batch, col: usize, kind: stats::StatKind) -> ColumnStats {
    use stats::StatKind as S;
    let mut nulls = 0;
    let (mut lo, mut hi): (Option<Cell>, Option<Cell>) = (None, None);
    for r in 0..batch.rows {
        let c = batch.cell(r, col);
        let less = |a: Cell, b: Cell| match (a, b) {
            (Cell::Str(..), Cell::Str(..)) => batch.str_at(str_parts(a)).as_bytes() < batch.str_at(str_parts(b)).as_bytes(),
            (Cell::Int(x), Cell::Int(y)) => x < y,
            (Cell::F(x), Cell::F(y)) => x < y,
            _ => false,
        };
        match c {
            Cell::Null => nulls += 1,
            _ if kind == S::Bool => {}
            _ => {
                if lo.is_none_or(|l| less(c, l)) {
                    lo = Some(c);
                }
                if hi.is_none_or(|h| less(h, c)) {
                    hi = Some(c);
                }
            }
        }
    }
    let bound = |c: Option<Cell>, max: bool| -> Option<String> {
        match c? {
            Cell::Str(a, l) => string_bound(batch.str_at((a, l)), max).map(|s| json_string(&s)),
            Cell::Int(v) if kind == S::Timestamp => Some(json_string(&timestamp_bound(v, max))),
            Cell::Int(v) => Some(v.to_string()),
            Cell::F(x) => Some(json_number(x)),
            _ => None,
        }
    };
    ColumnStats { null_count: nulls, min: bound(lo, false), max: bound(hi, true) }
}

fn str_parts(c: Cell) -> (u32, u32) {
    match c {
        Cell::Str(a, l) => (a, l),
        _ => (0, 0),
    }
}

/// Text columns whose first values are mostly distinct (parquet/write.ts mostlyDistinctColumns).
fn mostly_distinct(batch: &Batch, col: usize) -> bool {
    let mut seen: HashSet<&[u8], rustc_hash::FxBuildHasher> = HashSet::default();
    let mut sampled = 0;
    for r in 0..batch.rows {
        if sampled >= 256 {
            break;
        }
        if let Cell::Str(a, l) = batch.cell(r, col) {
            sampled += 1;
            seen.insert(batch.str_at((a, l)).as_bytes());
        }
    }
    sampled >= 16 && seen.len() * 2 > sampled
}

fn write_file(batch: &Batch, o: &EncodeOptions) -> std::result::Result<(Vec<u8>, String), String> {
    use stats::StatKind as S;
    let cols = table_columns(batch);
    let n = batch.rows;
    let mut fields = Vec::with_capacity(cols.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(cols.len());
    let mut props = WriterProperties::builder()
        .set_compression(match o.codec.as_str() {
            "snappy" => Compression::SNAPPY,
            "zstd" => Compression::ZSTD(ZstdLevel::default()),
            "gzip" => Compression::GZIP(GzipLevel::default()),
            "uncompressed" => Compression::UNCOMPRESSED,
            c => return Err(format!("unknown codec {c}")),
        })
        .set_max_row_group_row_count(Some(131072))
        .set_created_by(o.created_by.clone());
    let indexed = if o.num_indexed_cols < 0 { usize::MAX } else { o.num_indexed_cols as usize };
    let mut col_stats = Vec::with_capacity(cols.len());
    for (c, (name, kind)) in cols.iter().enumerate() {
        let nullable = c != batch.fields.id;
        // One column of fixed-width values: cells of `$variant`, nulls otherwise.
        macro_rules! typed_column {
            ($builder:expr, $variant:ident, $dt:expr) => {{
                let mut b = $builder;
                for r in 0..n {
                    match batch.cell(r, c) {
                        Cell::$variant(v) => b.append_value(v),
                        _ => b.append_null(),
                    }
                }
                ($dt, Arc::new(b.finish()) as ArrayRef)
            }};
        }
        let (dt, array): (DataType, ArrayRef) = match kind {
            S::Str => {
                let bytes = (0..n).map(|r| if let Cell::Str(_, l) = batch.cell(r, c) { l as usize } else { 0 }).sum();
                let mut b = StringBuilder::with_capacity(n, bytes);
                for r in 0..n {
                    match batch.cell(r, c) {
                        Cell::Str(a, l) => b.append_value(batch.str_at((a, l))),
                        _ => b.append_null(),
                    }
                }
                if mostly_distinct(batch, c) {
                    props = props.set_column_dictionary_enabled(ColumnPath::from(name.as_str()), false);
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
            S::Long => typed_column!(Int64Builder::with_capacity(n), Int, DataType::Int64),
            S::Timestamp => typed_column!(
                TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
                Int,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            ),
            S::Double => typed_column!(Float64Builder::with_capacity(n), F, DataType::Float64),
            S::Bool => typed_column!(BooleanBuilder::with_capacity(n), Bool, DataType::Boolean),
        };
        fields.push(Field::new(name, dt, nullable));
        arrays.push(array);
        col_stats.push((c < indexed).then(|| column_stats(batch, c, *kind)));
    }
    let schema = Arc::new(Schema::new(fields));
    let record = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
    let mut writer = ArrowWriter::try_new(Vec::with_capacity(batch.arena.len() / 2), schema, Some(props.build())).map_err(|e| e.to_string())?;
    writer.write(&record).map_err(|e| e.to_string())?;
    drop(record);
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    let names: Vec<String> = cols.into_iter().map(|(n, _)| n).collect();
    Ok((bytes, stats::stats_json(n, &names, &col_stats)))
}

/// Take an exclusive advisory lock (flock) on `path` (created if missing),
/// without waiting: the open descriptor that holds it, or -1 when another
/// open file holds it. The kernel releases it when the descriptor is closed
/// (`unlock_file`) or its process ends, however it ends; it follows the
/// file, not its path or the process's namespaces. Close-on-exec.
#[napi]
pub fn lock_file(path: String) -> Result<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::IntoRawFd;
        extern "C" {
            fn flock(fd: i32, operation: i32) -> i32;
            fn close(fd: i32) -> i32;
        }
        const LOCK_EX: i32 = 2;
        const LOCK_NB: i32 = 4;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::from_reason(format!("cannot open {path}: {e}")))?;
        let fd = file.into_raw_fd();
        if unsafe { flock(fd, LOCK_EX | LOCK_NB) } == 0 {
            return Ok(fd);
        }
        let err = std::io::Error::last_os_error();
        unsafe { close(fd) };
        if err.kind() == std::io::ErrorKind::WouldBlock {
            return Ok(-1);
        }
        Err(Error::from_reason(format!("cannot lock {path}: {err}")))
    }
    #[cfg(not(unix))]
    {
        Err(Error::from_reason(format!("file locks are not implemented here ({path})")))
    }
}

/// Release a lock taken by `lock_file` (closes its descriptor).
#[napi]
pub fn unlock_file(fd: i32) {
    #[cfg(unix)]
    unsafe {
        extern "C" {
            fn close(fd: i32) -> i32;
        }
        if fd >= 0 {
            close(fd);
        }
    }
    #[cfg(not(unix))]
    let _ = fd;
}
