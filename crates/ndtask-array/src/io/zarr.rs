//! Zarr arrays (formats 2 and 3, read and written) in a directory store, through the
//! `zarrs` crate: read lazily (each chunk task reads the stored chunks its region overlaps) and
//! written in parallel (each stored chunk, or shard, has exactly one writer: the task that
//! computed it).
//!
//! [`from_zarr`] makes an array whose chunks are the stored chunks (the shards of a sharded
//! array). [`Array::to_zarr`] rechunks the array to the target's chunk (or shard) grid, creates
//! the array's metadata in one task that every write task depends on (so on MPI the metadata
//! exists before any chunk is written, and it is written once), and writes each chunk from the
//! task that computed it, with no lock.

use crate::api::any::{with_typed, AnyArray};
use crate::api::array::Array;
use crate::collection::Write;
use crate::io::sink::{write_all, Sink};
use crate::ops::creation::source;
use crate::plan::chunks::typed;
use crate::plan::dispatch_dtype;
use crate::plan::reader::{ChunkReader, Subset, TileSource};
use ndarray::ArrayD;
use ndtask_core::{Buf, Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use zarrs::array::codec::api::CodecOptions;
use zarrs::array::codec::bytes_to_bytes::blosc::{
    BloscCodec, BloscCompressionLevel, BloscCompressor, BloscShuffleMode,
};
use zarrs::array::codec::bytes_to_bytes::zstd::ZstdCodec;
use zarrs::array::codec::BytesCodec;
use zarrs::array::{
    data_type, ArrayBuilder, ArrayMetadata, ArrayMetadataV2, ArraySubset, CodecMetadataOptions,
    DataType,
};
use zarrs::filesystem::FilesystemStore;
use zstd::stream::raw::{InBuffer, Operation, OutBuffer};

type ZArray = zarrs::array::Array<FilesystemStore>;

/// The compression of the chunks [`Array::to_zarr`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZarrCodec {
    /// No compression.
    None,
    /// Zstandard at level 3 (the default).
    #[default]
    Zstd,
    /// Blosc with its Zstandard compressor, level 5, byte shuffle.
    Blosc,
}

/// How [`Array::to_zarr`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZarrOptions {
    /// The stored chunk shape (default: the array's chunk shape; the array is rechunked to it
    /// when they differ).
    pub chunks: Option<Vec<usize>>,
    /// The compression (default zstd).
    pub codec: ZarrCodec,
    /// With sharding: the shard shape, a multiple of the chunk shape on every axis; each shard
    /// is written by one task (format 3 only).
    pub shard: Option<Vec<usize>>,
    /// The Zarr format written: 3 (the default) or 2 (`.zarray`, numcodecs compressors: what
    /// zarr-python 2 and older tools read).
    pub format: ZarrFormat,
    /// User attributes stored with the array (`.zattrs` in format 2, `attributes` in
    /// `zarr.json` in format 3).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The names of the dimensions (format 3's `dimension_names`; format 2 has no place for
    /// them, and Xarray keeps them in the attribute `_ARRAY_DIMENSIONS`).
    pub dimension_names: Option<Vec<String>>,
    /// The fill value stored in the metadata.
    pub fill: ZarrFill,
}

/// The fill value [`Array::to_zarr`] stores in the metadata (where no chunk was written, a
/// reader sees it; Xarray reads a format 2 fill value as missing data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZarrFill {
    /// Zero (`false` for bool).
    #[default]
    Zero,
    /// Missing: NaN for floats; for other types none (`null`) in format 2, and zero in format 3,
    /// which needs one (what Xarray writes, so that it masks nothing it should not).
    Missing,
}

/// The Zarr format [`Array::to_zarr`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZarrFormat {
    /// Zarr format 2: `.zarray` metadata, a numcodecs compressor, no sharding.
    V2,
    /// Zarr format 3: `zarr.json` metadata, codecs, optional sharding (the default).
    #[default]
    V3,
}

/// The metadata of an array being written: made by the write, or (`Existing`) already in the
/// store, for a write into a region of it.
enum Metadata {
    Existing,
    V3(Box<ArrayBuilder>),
    V2(Box<ArrayMetadataV2>),
}

/// Format 2 metadata (`.zarray`) for an array of `shape` in stored `chunks` of `dtype`.
fn metadata_v2(
    shape: &[usize],
    chunks: &[usize],
    dtype: DType,
    options: &ZarrOptions,
) -> Result<ArrayMetadataV2> {
    let (code, fill) = match dtype {
        DType::F64 => ("<f8", serde_json::json!(0.0)),
        DType::F32 => ("<f4", serde_json::json!(0.0)),
        DType::I64 => ("<i8", serde_json::json!(0)),
        DType::Bool => ("|b1", serde_json::json!(false)),
    };
    let fill = match (options.fill, dtype) {
        (ZarrFill::Zero, _) => fill,
        (ZarrFill::Missing, DType::F64 | DType::F32) => serde_json::json!("NaN"),
        (ZarrFill::Missing, _) => serde_json::Value::Null,
    };
    let codec = options.codec;
    let compressor = match codec {
        ZarrCodec::None => serde_json::Value::Null,
        ZarrCodec::Zstd => serde_json::json!({"id": "zstd", "level": 3}),
        ZarrCodec::Blosc => serde_json::json!({
            "id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0
        }),
    };
    let doc = serde_json::json!({
        "zarr_format": 2,
        "shape": shape,
        "chunks": chunks,
        "dtype": code,
        "compressor": compressor,
        "fill_value": fill,
        "order": "C",
        "filters": null,
        "dimension_separator": ".",
    });
    let mut meta: ArrayMetadataV2 =
        serde_json::from_value(doc).map_err(|e| Error::io("making Zarr format 2 metadata", e))?;
    meta.attributes = options.attributes.clone();
    Ok(meta)
}

/// The ndtask element type a Zarr data type is read as (`int32`, `uint8` and other integers
/// of up to 32 bits as `i64`).
fn dtype_of(t: &DataType, path: &str) -> Result<DType> {
    let is = |d: DataType| t == &d;
    Ok(if is(data_type::float64()) {
        DType::F64
    } else if is(data_type::float32()) {
        DType::F32
    } else if is(data_type::int64())
        || is(data_type::int32())
        || is(data_type::int16())
        || is(data_type::int8())
        || is(data_type::uint32())
        || is(data_type::uint16())
        || is(data_type::uint8())
    {
        DType::I64
    } else if is(data_type::bool()) {
        DType::Bool
    } else {
        return Err(Error::InvalidArgument(format!(
            "the Zarr array {path} has data type {t:?}; ndtask reads float64, float32, bool and \
             integers that fit in int64"
        )));
    })
}

/// The Rust name of a stored Zarr data type that ndtask reads (`"i32"` for `int32`, ...).
fn stored_name(t: &DataType) -> &'static str {
    type Named = (fn() -> DataType, &'static str);
    let names: [Named; 10] = [
        (data_type::float64, "f64"),
        (data_type::float32, "f32"),
        (data_type::int64, "i64"),
        (data_type::int32, "i32"),
        (data_type::int16, "i16"),
        (data_type::int8, "i8"),
        (data_type::uint32, "u32"),
        (data_type::uint16, "u16"),
        (data_type::uint8, "u8"),
        (data_type::bool, "bool"),
    ];
    names
        .iter()
        .find(|(d, _)| &d() == t)
        .map_or("unknown", |(_, n)| n)
}

/// Reads regions of a Zarr array.
struct ZarrReader {
    name: String,
    array: ZArray,
    dtype: DType,
    /// The array's metadata, as text: its identity (with the store path).
    metadata: String,
    /// How a whole stored chunk streams from its file, where it can.
    direct: Option<Direct>,
}

/// Stored chunks whose bytes are the values themselves, little-endian and of the reader's
/// type, as they are or in zstd frames: a region that is one whole stored chunk is streamed
/// from its file ([`StoredChunk`]), a piece at a time, straight into the tiles that read it.
/// zarrs reads the whole file, decodes it into a byte buffer and copies that into a new typed
/// array (zeroed first): for a 32 MB chunk, three buffers of its size and two more passes over
/// it than the decoding itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    /// The `bytes` codec alone.
    Raw,
    /// The `bytes` codec, then `zstd`.
    Zstd,
}

impl Direct {
    /// How the chunks of `array` decode when read by a reader of `dtype`: `None` unless the
    /// stored type is `dtype` (no widening), the codecs are `bytes` (little-endian, on a
    /// little-endian machine) and at most `zstd`, with nothing before them (a transpose: Zarr
    /// format 2's Fortran order), no sharding and no storage transformer.
    fn of(array: &ZArray, dtype: DType) -> Option<Direct> {
        let stored = array.data_type();
        let same = match dtype {
            DType::F64 => stored == &data_type::float64(),
            DType::F32 => stored == &data_type::float32(),
            DType::I64 => stored == &data_type::int64(),
            _ => false,
        };
        if !same
            || cfg!(target_endian = "big")
            || !array.storage_transformers().create_metadatas().is_empty()
        {
            return None;
        }
        let chain = array.codecs();
        if !chain.array_to_array_codecs().is_empty() {
            return None;
        }
        let bytes = chain.array_to_bytes_codec();
        bytes.as_any().downcast_ref::<BytesCodec>()?;
        let conf = bytes.configuration_v3(&CodecMetadataOptions::default())?;
        if conf.get("endian").and_then(|e| e.as_str()) != Some("little") {
            return None;
        }
        match chain.bytes_to_bytes_codecs() {
            [] => Some(Direct::Raw),
            [z] if z.as_any().downcast_ref::<ZstdCodec>().is_some() => Some(Direct::Zstd),
            _ => None,
        }
    }
}

/// How many compressed bytes a [`StoredChunk`] reads from its file at a time: zstd's own
/// suggestion for a streaming input (a block and its header), rounded up.
const READ_AHEAD: usize = 1 << 17;

/// The values of one whole stored chunk, read from its file and decoded a piece at a time
/// (a [`TileSource`]): whatever reads them holds a tile, never the chunk. The bytes must
/// decode to exactly the chunk's values; fewer (a frame of a smaller chunk, a file cut short)
/// or more (a larger chunk's frame) is an error naming the region and the array.
struct StoredChunk {
    file: std::fs::File,
    /// `None` for chunks stored as they are (the `bytes` codec alone).
    decoder: Option<zstd::stream::raw::Decoder<'static>>,
    /// Compressed bytes read and not yet decoded: `input[start..end]`.
    input: Vec<u8>,
    start: usize,
    end: usize,
    /// Whether the file has no more bytes.
    eof: bool,
    /// Whether the decoder ended a frame with its last call and holds nothing more.
    frame_done: bool,
    /// Values not yet handed out.
    left: usize,
    /// "reading region [..] of zarr:..", for errors.
    what: String,
}

impl StoredChunk {
    /// An error of this read, saying `message`.
    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::io(&self.what, std::io::Error::other(message.to_string()))
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(self.what.clone(), e)
    }

    /// Reads the next piece of the file once every byte read so far is decoded.
    fn refill(&mut self) -> Result<()> {
        if self.start == self.end && !self.eof {
            let k = std::io::Read::read(&mut self.file, &mut self.input).map_err(|e| self.io(e))?;
            (self.start, self.end, self.eof) = (0, k, k == 0);
        }
        Ok(())
    }

    /// Decodes what it can of the bytes read (reading more when they are all decoded) into
    /// `out`: how many bytes it took and how many it made.
    fn step(&mut self, out: &mut [u8]) -> Result<(usize, usize)> {
        self.refill()?;
        let Some(decoder) = &mut self.decoder else {
            return Err(Error::internal("decoding a stored chunk that has no codec"));
        };
        let mut input = InBuffer::around(&self.input[self.start..self.end]);
        let mut output = OutBuffer::around(out);
        let hint = decoder.run(&mut input, &mut output);
        let (used, made) = (input.pos(), output.pos());
        let hint = hint.map_err(|e| self.error(format!("zstd could not decode the chunk: {e}")))?;
        self.start += used;
        self.frame_done = hint == 0;
        Ok((used, made))
    }

    /// Fills `out` with the next decoded bytes.
    fn decode_into(&mut self, out: &mut [u8]) -> Result<()> {
        if self.decoder.is_none() {
            return std::io::Read::read_exact(&mut self.file, out).map_err(|e| self.io(e));
        }
        let mut at = 0;
        while at < out.len() {
            let (used, made) = self.step(&mut out[at..])?;
            at += made;
            if at < out.len() && used == 0 && made == 0 && (self.eof || self.frame_done) {
                return Err(self.error("the chunk holds fewer bytes than its values take"));
            }
        }
        Ok(())
    }

    /// Checks that nothing follows the values: the file ends, and whatever is left of it
    /// decodes to no bytes.
    fn finish(&mut self) -> Result<()> {
        let more = || "the chunk holds more bytes than its values take";
        let mut scratch = [0u8; 64];
        if self.decoder.is_none() {
            let k = std::io::Read::read(&mut self.file, &mut scratch).map_err(|e| self.io(e))?;
            return match k {
                0 => Ok(()),
                _ => Err(self.error(more())),
            };
        }
        loop {
            self.refill()?;
            if self.frame_done && self.start == self.end && self.eof {
                return Ok(());
            }
            let (used, made) = self.step(&mut scratch)?;
            if made > 0 {
                return Err(self.error(more()));
            }
            if used == 0 && self.eof && !self.frame_done {
                return Err(self.error("the chunk's last zstd frame is cut short"));
            }
        }
    }
}

/// The first `n` values of `out`, as bytes (resized to `n`).
fn value_bytes(out: &mut Buf, n: usize) -> Result<&mut [u8]> {
    Ok(match out {
        Buf::F64(v) => {
            v.resize(n, 0.0);
            bytemuck::cast_slice_mut(v.as_mut_slice())
        }
        Buf::F32(v) => {
            v.resize(n, 0.0);
            bytemuck::cast_slice_mut(v.as_mut_slice())
        }
        Buf::I64(v) => {
            v.resize(n, 0);
            bytemuck::cast_slice_mut(v.as_mut_slice())
        }
        other => {
            return Err(Error::internal(format!(
                "a stored Zarr chunk streamed into a {} tile",
                other.dtype()
            )))
        }
    })
}

impl TileSource for StoredChunk {
    fn fill(&mut self, out: &mut Buf, n: usize) -> Result<()> {
        if n > self.left {
            return Err(Error::internal(format!(
                "{}: {n} values asked for, {} left",
                self.what, self.left
            )));
        }
        let bytes = value_bytes(out, n)?;
        self.decode_into(bytes)?;
        self.left -= n;
        if self.left == 0 {
            self.finish()?;
        }
        Ok(())
    }
}

impl ZarrReader {
    /// The stored chunk that `subset` is, whole, when its bytes can be streamed
    /// ([`Direct`]): `None` where the general path reads it (other codecs or types, part of a
    /// chunk, a chunk at the array's edge).
    fn whole_chunk(&self, subset: &ArraySubset) -> Option<(Direct, Vec<u64>)> {
        let direct = self.direct?;
        let chunks = self.array.chunks_in_array_subset(subset).ok()??;
        if chunks.num_elements() != 1 {
            return None;
        }
        let idx = chunks.start().to_vec();
        (self.array.chunk_subset(&idx).ok()? == *subset).then_some((direct, idx))
    }

    /// The region's values as a chunk of the reader's element type: retrieved straight into
    /// the chunk's array when the stored type is that type, converted from a narrower integer
    /// type otherwise.
    fn retrieve(&self, subset: &ArraySubset) -> std::result::Result<Chunk, String> {
        let t = self.array.data_type();
        let get = |e: zarrs::array::ArrayError| e.to_string();
        macro_rules! widen {
            ($($dt:ident => $ty:ty),*) => {
                $(if t == &data_type::$dt() {
                    let a: ArrayD<$ty> = self.array.retrieve_array_subset(subset).map_err(get)?;
                    return Ok(Chunk::I64(a.mapv(|v| v as i64)));
                })*
            };
        }
        widen!(int32 => i32, int16 => i16, int8 => i8, uint32 => u32, uint16 => u16, uint8 => u8);
        Ok(match self.dtype {
            DType::F64 => Chunk::F64(self.array.retrieve_array_subset(subset).map_err(get)?),
            DType::F32 => Chunk::F32(self.array.retrieve_array_subset(subset).map_err(get)?),
            DType::I64 => Chunk::I64(self.array.retrieve_array_subset(subset).map_err(get)?),
            DType::Bool => Chunk::Bool(self.array.retrieve_array_subset(subset).map_err(get)?),
        })
    }
}

impl ChunkReader for ZarrReader {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn stored_dtype(&self) -> String {
        stored_name(self.array.data_type()).to_string()
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("zarr");
        h.str(&self.name);
        h.str(&self.metadata);
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn read(&self, r: &Subset) -> Result<Chunk> {
        if let Some(mut whole) = self.stream(r) {
            let n = r.len();
            let what = || format!("region {} of {}", r.describe(), self.name);
            let mut values = Buf::try_with_capacity(self.dtype, n, what())?;
            whole.fill(&mut values, n)?;
            return values.into_chunk(&r.shape);
        }
        let what = || format!("reading region {} of {}", r.describe(), self.name);
        let io = |e: String| Error::io(what(), std::io::Error::other(e));
        self.retrieve(&subset_of(r).map_err(io)?).map_err(io)
    }

    /// A region that is one whole stored chunk of bytes (and at most zstd) streams from its
    /// file; a chunk never written (no file) reads through [`ChunkReader::read`] as the fill
    /// value, and so does a file that cannot be opened, where the read reports why.
    fn stream<'a>(&'a self, r: &Subset) -> Option<Box<dyn TileSource + 'a>> {
        let (direct, idx) = self.whole_chunk(&subset_of(r).ok()?)?;
        let path = self
            .array
            .storage()
            .key_to_fspath(&self.array.chunk_key(&idx));
        let file = std::fs::File::open(path).ok()?;
        let decoder = match direct {
            Direct::Raw => None,
            Direct::Zstd => {
                // Any window a frame asks for, as zarrs' one-shot decoding allows (frames
                // written in zstd's long mode use windows above the streaming default).
                let mut d = zstd::stream::raw::Decoder::new().ok()?;
                d.set_parameter(zstd::stream::raw::DParameter::WindowLogMax(31))
                    .ok()?;
                Some(d)
            }
        };
        Some(Box::new(StoredChunk {
            file,
            decoder,
            input: vec![0; READ_AHEAD],
            start: 0,
            end: 0,
            eof: false,
            frame_done: false,
            left: r.len(),
            what: format!("reading region {} of {}", r.describe(), self.name),
        }))
    }
}

/// The Zarr subset that `r` is.
fn subset_of(r: &Subset) -> std::result::Result<ArraySubset, String> {
    let start: Vec<u64> = r.start.iter().map(|&s| s as u64).collect();
    let shape: Vec<u64> = r.shape.iter().map(|&s| s as u64).collect();
    ArraySubset::new_with_start_shape(start, shape).map_err(|e| e.to_string())
}

/// Opens the Zarr array at `array_path` (`"/"` for the root) of the directory store at
/// `store_path`.
fn open(store_path: &Path, array_path: &str) -> Result<(ZArray, String)> {
    let name = format!("zarr:{}:{array_path}", store_path.display());
    if !store_path.is_dir() {
        let why = if store_path.exists() {
            "it is not a directory"
        } else {
            "no such directory"
        };
        return Err(Error::io(
            format!("opening the Zarr store {}", store_path.display()),
            std::io::Error::new(std::io::ErrorKind::NotFound, why),
        ));
    }
    let store = FilesystemStore::new(store_path).map_err(|e| {
        Error::io(
            format!("opening the Zarr store {}", store_path.display()),
            e,
        )
    })?;
    let array = ZArray::open(Arc::new(store), array_path).map_err(|e| {
        let inside = store_path.join(array_path.trim_start_matches('/'));
        if !inside.join("zarr.json").exists() && !inside.join(".zarray").exists() {
            return Error::io(
                format!("opening the Zarr array {name}"),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "there is no array at {array_path:?} in the store (neither {} nor {} \
                         exists)",
                        inside.join("zarr.json").display(),
                        inside.join(".zarray").display()
                    ),
                ),
            );
        }
        Error::io(format!("opening the Zarr array {name}"), e)
    })?;
    Ok((array, name))
}

/// A lazy array of the Zarr array at `array_path` (`"/"` for the store's root) in the
/// directory store at `store_path`, with the stored chunks (a sharded array's shards) as its
/// chunks. Chunks that were never written read as the fill value.
///
/// # Errors
/// [`Error::Io`] naming the store and the array if it cannot be opened (a missing path, bad
/// metadata, an unsupported codec); [`Error::InvalidArgument`] if its data type is not `T`.
pub fn from_zarr<T: Element>(store_path: impl AsRef<Path>, array_path: &str) -> Result<Array<T>> {
    let store_path = store_path.as_ref();
    let (array, name) = open(store_path, array_path)?;
    let dtype = dtype_of(array.data_type(), &name)?;
    if dtype != T::DTYPE {
        return Err(Error::InvalidArgument(format!(
            "the Zarr array {name} holds {dtype} values, not {}",
            T::DTYPE
        )));
    }
    let shape: Vec<usize> = array.shape().iter().map(|&d| d as usize).collect();
    let chunk = array
        .chunk_shape(&vec![0; shape.len()])
        .map_err(|e| Error::io(format!("reading the chunk grid of {name}"), e))?;
    let chunks: Vec<usize> = chunk.iter().map(|c| c.get() as usize).collect();
    let chunks: Vec<usize> = chunks
        .iter()
        .zip(&shape)
        .map(|(&c, &d)| c.min(d.max(1)))
        .collect();
    let metadata = array.metadata().to_string_pretty();
    let direct = Direct::of(&array, dtype);
    let reader = ZarrReader {
        name,
        array,
        dtype,
        metadata,
        direct,
    };
    source(&shape, Chunks::Block(chunks), Arc::new(reader))
}

/// A lazy array of the Zarr array at `array_path` of the directory store at `store_path`, of
/// the element type its metadata gives (as Dask's `from_zarr` and Xarray do): `float64`,
/// `float32`, `int64` and `bool` as themselves, narrower integers as `i64`
/// ([`AnyArray::stored_dtype`] tells which).
///
/// # Errors
/// As [`from_zarr`]: the store or the array does not exist (naming it), bad metadata, a data
/// type ndtask does not read.
///
/// # Examples
/// ```
/// use ndtask_core::DType;
/// let dir = std::env::temp_dir().join(format!("ndtask-doc-any-{}.zarr", std::process::id()));
/// ndtask_array::arange(0.0f32, 6.0, 1.0, [4])?.to_zarr(&dir, "/", &Default::default())?.compute()?;
/// let x = ndtask_array::open_zarr(&dir, "/")?;
/// assert_eq!((x.dtype(), x.stored_dtype().as_str()), (DType::F32, "f32"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn open_zarr(store_path: impl AsRef<Path>, array_path: &str) -> Result<AnyArray> {
    let store_path = store_path.as_ref();
    let (array, name) = open(store_path, array_path)?;
    let dtype = dtype_of(array.data_type(), &name)?;
    drop(array);
    dispatch_dtype!(dtype, T => Ok(from_zarr::<T>(store_path, array_path)?.into()))
}

impl AnyArray {
    /// The lazy write of the array as a Zarr array of its element type (as
    /// [`Array::to_zarr`]).
    ///
    /// # Errors
    /// As [`Array::to_zarr`].
    pub fn to_zarr(
        &self,
        store_path: impl AsRef<Path>,
        array_path: &str,
        options: &ZarrOptions,
    ) -> Result<Write> {
        with_typed!(self, x => x.to_zarr(store_path, array_path, options))
    }

    /// The parts of [`AnyArray::to_zarr`], as [`Array::zarr_sink`].
    ///
    /// # Errors
    /// As [`Array::to_zarr`].
    pub fn zarr_sink(
        &self,
        store_path: impl AsRef<Path>,
        array_path: &str,
        options: &ZarrOptions,
    ) -> Result<(AnyArray, Arc<dyn Sink>)> {
        with_typed!(self, x => {
            let (data, sink) = x.zarr_sink(store_path, array_path, options)?;
            Ok((data.into(), sink))
        })
    }
}

/// A Zarr array being written: its metadata is stored once, then each chunk of the
/// (rechunked) array is stored as one stored chunk or shard.
struct ZarrSink<T> {
    store_path: PathBuf,
    array_path: String,
    metadata: Metadata,
    /// Where the written array starts in the stored one (zeros unless storing a region).
    offset: Vec<usize>,
    /// The written array's grid: the stored chunks (or shards), cut to the array.
    grid: ChunkGrid,
    /// The array, opened by the first writer of this process that succeeds (after the metadata
    /// exists; a failed open is tried again by the next writer).
    array: Mutex<Option<Arc<ZArray>>>,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Element> Sink for ZarrSink<T> {
    fn kind(&self) -> &'static str {
        "zarr"
    }
    fn target(&self) -> String {
        format!("{}:{}", self.store_path.display(), self.array_path)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("zarr");
        h.str(&self.store_path.to_string_lossy());
        h.str(&self.array_path);
        self.grid.fingerprint(h);
        h.usize(self.offset.len());
        self.offset.iter().for_each(|&o| h.usize(o));
        match &self.metadata {
            Metadata::Existing => h.str("existing"),
            Metadata::V3(builder) => match builder.build_metadata() {
                Ok(m) => h.str(&format!("{m:?}")),
                Err(e) => h.str(&e.to_string()),
            },
            Metadata::V2(m) => h.str(&m.to_string_pretty()),
        }
    }
    fn create(&self) -> Result<()> {
        let what = || {
            format!(
                "creating the Zarr array {}:{}",
                self.store_path.display(),
                self.array_path
            )
        };
        if let Metadata::Existing = self.metadata {
            // Storing into a region: the array must still be there.
            return open(&self.store_path, &self.array_path).map(|_| ());
        }
        // An array already at the path is replaced (zarr-python's mode "w"): its old chunks
        // would otherwise mix with the new ones where a write covers part of a chunk.
        let node = self
            .store_path
            .join(self.array_path.trim_start_matches('/'));
        let is_array = ["zarr.json", ".zarray"]
            .iter()
            .any(|m| node.join(m).is_file());
        if is_array {
            std::fs::remove_dir_all(&node).map_err(|e| Error::io(what(), e))?;
        }
        std::fs::create_dir_all(&self.store_path).map_err(|e| Error::io(what(), e))?;
        let store = FilesystemStore::new(&self.store_path).map_err(|e| Error::io(what(), e))?;
        let array = match &self.metadata {
            Metadata::Existing => return Ok(()),
            Metadata::V3(builder) => builder.build(Arc::new(store), &self.array_path),
            Metadata::V2(m) => ZArray::new_with_metadata(
                Arc::new(store),
                &self.array_path,
                ArrayMetadata::V2((**m).clone()),
            ),
        }
        .map_err(|e| Error::io(what(), e))?;
        array.store_metadata().map_err(|e| Error::io(what(), e))
    }
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()> {
        let idx = self.grid.unravel(block);
        let what = || {
            format!(
                "writing chunk {idx:?} of the Zarr array {}:{}",
                self.store_path.display(),
                self.array_path
            )
        };
        let array = {
            let mut cached = self.array.lock().unwrap_or_else(PoisonError::into_inner);
            match &*cached {
                Some(a) => a.clone(),
                None => {
                    let a = Arc::new(open(&self.store_path, &self.array_path)?.0);
                    *cached = Some(a.clone());
                    a
                }
            }
        };
        let chunk_values = chunk;
        let chunk = typed::<T>(chunk, "zarr-write")?;
        // The chunk's region: a whole stored chunk (or shard), or the part of one inside the
        // array at its edge (stored padded with the fill value).
        let start: Vec<u64> = self
            .grid
            .chunk_offset(&idx)
            .iter()
            .zip(&self.offset)
            .map(|(&o, &at)| (o + at) as u64)
            .collect();
        let shape: Vec<u64> = chunk.shape().iter().map(|&d| d as u64).collect();
        let subset =
            ArraySubset::new_with_start_shape(start, shape).map_err(|e| Error::io(what(), e))?;
        // One thread per write: the tasks are the parallelism, and a shard's inner chunks are
        // then laid out in order, so the bytes do not depend on timing (or on the rank count).
        let options = CodecOptions::default().with_concurrent_target(1);
        // The chunk's own storage is written (no converted copy): it holds the target's type.
        let stored = match chunk_values {
            Chunk::F64(a) => array.store_array_subset_opt(&subset, a, &options),
            Chunk::F32(a) => array.store_array_subset_opt(&subset, a, &options),
            Chunk::I64(a) => array.store_array_subset_opt(&subset, a, &options),
            Chunk::Bool(a) => array.store_array_subset_opt(&subset, a, &options),
            _ => return Err(Error::internal("zarr-write: a chunk that is not one array")),
        };
        stored.map_err(|e| Error::io(what(), e))
    }
}

fn zarr_type(dtype: DType) -> DataType {
    match dtype {
        DType::F64 => data_type::float64(),
        DType::F32 => data_type::float32(),
        DType::I64 => data_type::int64(),
        DType::Bool => data_type::bool(),
    }
}

impl<T: Element> Array<T> {
    /// The lazy write of the array into the region of the existing Zarr array at `array_path`
    /// of the store at `store_path` that starts at `offset` (Dask's
    /// `da.store(x, z, regions=...)`); the rest of the stored array is left as it is. The array is
    /// rechunked along the stored array's chunk (or shard) boundaries, so each stored chunk
    /// the region touches is written by exactly one task (a chunk the region covers in part
    /// is read, updated and written back by that task): any offset works, aligned or not.
    ///
    /// # Errors
    /// The array's error; [`Error::Io`] if the stored array cannot be opened or a chunk not
    /// written; [`Error::InvalidArgument`] if its element type is not the array's, or the
    /// region (`offset` plus the array's shape) does not fit inside it, naming both.
    ///
    /// # Examples
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ndtask-doc-store-{}.zarr", std::process::id()));
    /// use ndtask_array::{zeros, arange, from_zarr, ZarrOptions};
    /// zeros::<f64>([4, 6], [2, 3])?.to_zarr(&dir, "/", &ZarrOptions::default())?.compute()?;
    /// arange(1.0, 5.0, 1.0, [3])?.reshape([2, 2])?.store_zarr(&dir, "/", &[1, 2])?.compute()?;
    /// let got = from_zarr::<f64>(&dir, "/")?.compute()?;
    /// assert_eq!(got.sum(), 10.0);
    /// assert_eq!((got[[1, 2]], got[[1, 3]], got[[2, 2]], got[[2, 3]]), (1.0, 2.0, 3.0, 4.0));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn store_zarr(
        &self,
        store_path: impl AsRef<Path>,
        array_path: &str,
        offset: &[usize],
    ) -> Result<Write> {
        self.check()?;
        let store_path = store_path.as_ref();
        let (target, name) = open(store_path, array_path)?;
        if target.data_type() != &zarr_type(T::DTYPE) {
            return Err(Error::InvalidArgument(format!(
                "store_zarr: the Zarr array {name} holds {:?} values; this array's are {}",
                target.data_type(),
                T::DTYPE
            )));
        }
        let shape = self.shape();
        let stored: Vec<usize> = target.shape().iter().map(|&d| d as usize).collect();
        let fits = offset.len() == shape.len()
            && stored.len() == shape.len()
            && (0..shape.len()).all(|a| {
                offset[a]
                    .checked_add(shape[a])
                    .is_some_and(|end| end <= stored[a])
            });
        if !fits {
            return Err(Error::InvalidArgument(format!(
                "store_zarr: an array of shape {shape:?} at offset {offset:?} does not fit inside \
                 the Zarr array {name} of shape {stored:?}"
            )));
        }
        let nd = shape.len();
        let unit: Vec<usize> = target
            .chunk_shape(&vec![0; nd])
            .map_err(|e| Error::io(format!("reading the chunk grid of {name}"), e))?
            .iter()
            .map(|c| c.get() as usize)
            .collect();
        // Cut along the stored chunk boundaries inside the region.
        let sizes: Vec<Vec<usize>> = (0..nd)
            .map(|a| {
                let (mut at, end, c) = (offset[a], offset[a] + shape[a], unit[a].max(1));
                let mut v = Vec::new();
                while at < end {
                    let next = ((at / c + 1) * c).min(end);
                    v.push(next - at);
                    at = next;
                }
                v
            })
            .collect();
        let grid = ChunkGrid::from_sizes(sizes.clone())?;
        let data = self.rechunk(Chunks::Explicit(sizes))?;
        let sink = ZarrSink::<T> {
            store_path: store_path.to_path_buf(),
            array_path: array_path.to_string(),
            metadata: Metadata::Existing,
            offset: offset.to_vec(),
            grid,
            array: Mutex::new(None),
            _t: std::marker::PhantomData,
        };
        write_all(&data, Arc::new(sink))
    }

    /// The lazy write of the array as a Zarr array (format 3, or 2 by [`ZarrOptions::format`])
    /// at `array_path` (`"/"` for the root) of the directory store at `store_path`: the array is
    /// rechunked to the stored chunks (or shards) when its own differ, one task writes the
    /// metadata, and each stored chunk (or shard) is written by the task that computed it. On
    /// MPI every rank calls it alike and writes the chunks it computed.
    ///
    /// # Errors
    /// The array's error; [`Error::InvalidArgument`] for chunks or shards that do not fit the
    /// array (a shard that is not a multiple of the chunks); [`Error::Io`] naming the store,
    /// the array and the chunk that could not be written.
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::{from_zarr, ZarrOptions};
    /// let dir = std::env::temp_dir().join(format!("ndtask-doc-{}.zarr", std::process::id()));
    /// let x = ndtask_array::random::uniform::<f64>([100, 60], [25, 30], 1)?;
    /// x.to_zarr(&dir, "/", &ZarrOptions::default())?.compute()?;
    /// let y = from_zarr::<f64>(&dir, "/")?;
    /// assert_eq!(y.compute()?, x.compute()?);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn to_zarr(
        &self,
        store_path: impl AsRef<Path>,
        array_path: &str,
        options: &ZarrOptions,
    ) -> Result<Write> {
        let (data, sink) = self.zarr_sink(store_path, array_path, options)?;
        write_all(&data, sink)
    }

    /// The parts of [`Array::to_zarr`], to write the array with others in one write
    /// ([`crate::sink::write_many`], as a Zarr group of several arrays is): the array
    /// rechunked to the stored chunks (or shards), and the sink that stores them.
    ///
    /// # Errors
    /// As [`Array::to_zarr`].
    pub fn zarr_sink(
        &self,
        store_path: impl AsRef<Path>,
        array_path: &str,
        options: &ZarrOptions,
    ) -> Result<(Array<T>, Arc<dyn Sink>)> {
        self.check()?;
        let shape = self.shape();
        let nd = shape.len();
        let own: Vec<usize> = (0..nd)
            .map(|a| self.grid().max_chunk_shape()[a].max(1))
            .collect();
        let chunks = options.chunks.clone().unwrap_or(own);
        let bad = |what: &str, v: &[usize]| {
            Error::InvalidArgument(format!(
                "to_zarr: {what} {v:?} does not fit an array of shape {shape:?} ({} axes, sizes \
                 of at least 1)",
                nd
            ))
        };
        if chunks.len() != nd || chunks.contains(&0) {
            return Err(bad("chunk shape", &chunks));
        }
        if options.format == ZarrFormat::V2 && options.shard.is_some() {
            return Err(Error::InvalidArgument(
                "to_zarr: Zarr format 2 has no sharding; write format 3 for a shard shape".into(),
            ));
        }
        let grid_shape = match &options.shard {
            None => chunks.clone(),
            Some(shard) => {
                if shard.len() != nd
                    || shard
                        .iter()
                        .zip(&chunks)
                        .any(|(&s, &c)| s == 0 || s % c != 0)
                {
                    return Err(Error::InvalidArgument(format!(
                        "to_zarr: shard shape {shard:?} is not a multiple of the chunk shape \
                         {chunks:?} on every axis"
                    )));
                }
                shard.clone()
            }
        };
        let missing = options.fill == ZarrFill::Missing;
        let fill = match T::DTYPE {
            DType::F64 if missing => zarrs::array::FillValue::from(f64::NAN),
            DType::F32 if missing => zarrs::array::FillValue::from(f32::NAN),
            DType::F64 => zarrs::array::FillValue::from(0.0f64),
            DType::F32 => zarrs::array::FillValue::from(0.0f32),
            DType::I64 => zarrs::array::FillValue::from(0i64),
            DType::Bool => zarrs::array::FillValue::from(false),
        };
        let to_u64 = |v: &[usize]| v.iter().map(|&x| x as u64).collect::<Vec<u64>>();
        let mut builder = ArrayBuilder::new(
            to_u64(&shape),
            to_u64(&grid_shape),
            zarr_type(T::DTYPE),
            fill,
        );
        let codec: Option<Arc<dyn zarrs::array::codec::api::BytesToBytesCodecTraits>> =
            match options.codec {
                ZarrCodec::None => None,
                ZarrCodec::Zstd => Some(Arc::new(ZstdCodec::new(3, false))),
                ZarrCodec::Blosc => {
                    let level = BloscCompressionLevel::try_from(5u8)
                        .map_err(|l| Error::internal(format!("blosc level {l}")))?;
                    let blosc = BloscCodec::new(
                        BloscCompressor::Zstd,
                        level,
                        None,
                        BloscShuffleMode::Shuffle,
                        Some(T::DTYPE.size()),
                    )
                    .map_err(|e| Error::io("making the blosc codec", e))?;
                    Some(Arc::new(blosc))
                }
            };
        builder.bytes_to_bytes_codecs(codec.into_iter().collect());
        builder.attributes(options.attributes.clone());
        if let Some(names) = &options.dimension_names {
            if names.len() != nd {
                return Err(Error::InvalidArgument(format!(
                    "to_zarr: {} dimension names {names:?} for an array of {nd} axes",
                    names.len()
                )));
            }
            builder.dimension_names(Some(names.clone()));
        }
        if options.shard.is_some() {
            builder.subchunk_shape(Some(to_u64(&chunks)));
        }
        // Stored chunks may be larger than the array; ndtask's are cut to it.
        let cut: Vec<usize> = grid_shape
            .iter()
            .zip(&shape)
            .map(|(&g, &d)| g.min(d.max(1)))
            .collect();
        let grid = ChunkGrid::new(&shape, Chunks::Block(cut.clone()))?;
        let data = self.rechunk(Chunks::Block(cut))?;
        let metadata = match options.format {
            ZarrFormat::V3 => Metadata::V3(Box::new(builder)),
            ZarrFormat::V2 => Metadata::V2(Box::new(metadata_v2(
                &shape,
                &grid_shape,
                T::DTYPE,
                options,
            )?)),
        };
        let sink = ZarrSink::<T> {
            store_path: store_path.as_ref().to_path_buf(),
            array_path: array_path.to_string(),
            metadata,
            offset: vec![0; nd],
            grid,
            array: Mutex::new(None),
            _t: std::marker::PhantomData,
        };
        Ok((data, Arc::new(sink)))
    }
}

/// The metadata file of the Zarr array at `array_path`: its path and JSON.
fn metadata_json(store_path: &Path, array_path: &str) -> Result<(PathBuf, serde_json::Value)> {
    let dir = store_path.join(array_path.trim_start_matches('/'));
    let file = if dir.join("zarr.json").is_file() {
        dir.join("zarr.json")
    } else {
        dir.join(".zarray")
    };
    let what = || format!("reading the Zarr metadata {}", file.display());
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(what(), e))?;
    let json = serde_json::from_str(&text).map_err(|e| Error::io(what(), e))?;
    Ok((file, json))
}

/// The text of a one-dimensional Zarr array of fixed-length byte strings (format 2 `"|S<n>"`,
/// format 3 `null_terminated_bytes`, as Xarray writes string coordinates), one string per
/// element, the trailing NULs cut and the bytes read as UTF-8.
///
/// # Errors
/// [`Error::Io`] naming the array if it cannot be read; [`Error::InvalidArgument`] if it does
/// not hold fixed-length byte strings.
pub fn read_zarr_text(store_path: impl AsRef<Path>, array_path: &str) -> Result<Vec<String>> {
    let store_path = store_path.as_ref();
    let name = format!("zarr:{}:{array_path}", store_path.display());
    let (file, mut meta) = metadata_json(store_path, array_path)?;
    let not_text = |t: &serde_json::Value| {
        Error::InvalidArgument(format!(
            "the Zarr array {name} holds {t}, not fixed-length byte strings"
        ))
    };
    // zarrs reads the bytes as raw bits of the same width.
    let width = if meta["zarr_format"] == 2 {
        let t = meta["dtype"].clone();
        let w: usize = t
            .as_str()
            .and_then(|s| s.strip_prefix("|S"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| not_text(&t))?;
        meta["dtype"] = serde_json::json!(format!("|V{w}"));
        meta["fill_value"] = serde_json::json!(vec![0u8; w]);
        w
    } else {
        let t = meta["data_type"].clone();
        let w = (t["name"] == "null_terminated_bytes")
            .then(|| t["configuration"]["length_bytes"].as_u64())
            .flatten()
            .ok_or_else(|| not_text(&t))? as usize;
        meta["data_type"] = serde_json::json!(format!("r{}", w * 8));
        meta["fill_value"] = serde_json::json!(vec![0u8; w]);
        w
    };
    let what = || format!("reading the Zarr array {name} ({})", file.display());
    let metadata: ArrayMetadata = serde_json::from_value(meta).map_err(|e| Error::io(what(), e))?;
    let store = FilesystemStore::new(store_path).map_err(|e| Error::io(what(), e))?;
    let array = ZArray::new_with_metadata(Arc::new(store), array_path, metadata)
        .map_err(|e| Error::io(what(), e))?;
    if array.shape().len() != 1 {
        return Err(Error::InvalidArgument(format!(
            "the Zarr array {name} of strings has shape {:?}; ndtask reads strings of one axis",
            array.shape()
        )));
    }
    let bytes: zarrs::array::ArrayBytes<'static> = array
        .retrieve_array_subset(&array.subset_all())
        .map_err(|e| Error::io(what(), e))?;
    let bytes = bytes.into_fixed().map_err(|e| Error::io(what(), e))?;
    Ok(bytes
        .chunks(width.max(1))
        .map(|c| {
            String::from_utf8_lossy(c)
                .trim_end_matches('\0')
                .to_string()
        })
        .collect())
}

/// Writes `text` as a one-dimensional Zarr array of fixed-length byte strings (as wide as the
/// longest, UTF-8, NUL-padded; format 2 `"|S<n>"`, format 3 `null_terminated_bytes`),
/// uncompressed in one chunk, with `attributes` (and, in format 3, `dimension_names`). An
/// array already at the path is replaced. Xarray reads it as strings when `attributes` has
/// `"_Encoding": "utf-8"`.
///
/// # Errors
/// [`Error::Io`] naming the array if it cannot be written.
pub fn write_zarr_text(
    store_path: impl AsRef<Path>,
    array_path: &str,
    text: &[String],
    options: &ZarrOptions,
) -> Result<()> {
    let dir = store_path.as_ref().join(array_path.trim_start_matches('/'));
    let what = || format!("writing the Zarr array of strings {}", dir.display());
    let width = text.iter().map(String::len).max().unwrap_or(0).max(1);
    let n = text.len();
    let mut bytes: Vec<u8> = Vec::new();
    bytes
        .try_reserve_exact(n.saturating_mul(width))
        .map_err(|e| Error::io(what(), e))?;
    for s in text {
        bytes.extend_from_slice(s.as_bytes());
        bytes.resize(bytes.len() + width - s.len(), 0);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(what(), e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(what(), e))?;
    let chunk = n.max(1);
    let json = |v: serde_json::Value| serde_json::to_string_pretty(&v).map_err(Error::internal);
    let chunk_file = match options.format {
        ZarrFormat::V2 => {
            let meta = serde_json::json!({
                "zarr_format": 2, "shape": [n], "chunks": [chunk], "dtype": format!("|S{width}"),
                "compressor": null, "fill_value": null, "order": "C", "filters": null,
                "dimension_separator": "."
            });
            std::fs::write(dir.join(".zarray"), json(meta)?).map_err(|e| Error::io(what(), e))?;
            let mut attrs = options.attributes.clone();
            if let Some(d) = &options.dimension_names {
                attrs.insert("_ARRAY_DIMENSIONS".into(), serde_json::json!(d));
            }
            std::fs::write(dir.join(".zattrs"), json(serde_json::Value::Object(attrs))?)
                .map_err(|e| Error::io(what(), e))?;
            dir.join("0")
        }
        ZarrFormat::V3 => {
            let mut meta = serde_json::json!({
                "zarr_format": 3, "node_type": "array", "shape": [n],
                "data_type": {"name": "null_terminated_bytes", "configuration": {"length_bytes": width}},
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [chunk]}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": "", "codecs": [{"name": "bytes"}],
                "attributes": serde_json::Value::Object(options.attributes.clone())
            });
            if let Some(d) = &options.dimension_names {
                meta["dimension_names"] = serde_json::json!(d);
            }
            std::fs::write(dir.join("zarr.json"), json(meta)?).map_err(|e| Error::io(what(), e))?;
            std::fs::create_dir_all(dir.join("c")).map_err(|e| Error::io(what(), e))?;
            dir.join("c").join("0")
        }
    };
    if n > 0 {
        std::fs::write(chunk_file, &bytes).map_err(|e| Error::io(what(), e))?;
    }
    Ok(())
}
