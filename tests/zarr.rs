//! Zarr arrays: written in parallel (one writer per stored chunk or shard) and read lazily, on
//! every scheduler, over random shapes, chunkings, element types, codecs and shardings; arrays
//! zarr-python wrote (format 2 with blosc, format 3 with zstd, format 3 sharded) read exactly,
//! zarr-python reads ndtask's output exactly; errors name the store, the array and the chunk.
//!
//! Built with the `zarr` feature: `cargo test --release --features zarr --test zarr`. The
//! zarr-python tests need a Python with NumPy and zarr (see `common::python`).

#![cfg(feature = "zarr")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{s, ArrayD, IxDyn};
use ndtask::io::{ZarrCodec, ZarrFormat, ZarrOptions};
use ndtask::{from_ndarray, from_zarr, Element, Error};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ndtask-zarr-{}-{n}-{name}", std::process::id()))
}

fn values<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    data(shape, seed).mapv(|v| T::from_f64((v * 1000.0).round() / 8.0))
}

fn round_trip<T: Element>(shape: &[usize], chunks: ndtask::Chunks, options: &ZarrOptions) {
    let want: ArrayD<T> = values(shape, 4);
    let dir = temp("rt.zarr");
    for s in schedulers() {
        let x = from_ndarray(want.clone(), chunks.clone())
            .unwrap()
            .map(|v| v);
        x.to_zarr(&dir, "/a", options)
            .and_then(|w| w.compute_with(&s))
            .unwrap();
        let y = from_zarr::<T>(&dir, "/a").unwrap();
        assert_eq!(
            y.compute_with(&s).unwrap(),
            want,
            "{} {shape:?} {options:?}",
            s.name()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn written_then_read_back_exactly((shape, chunks) in shape_and_chunks(3), codec in 0..3u8, stored in prop::collection::vec(1usize..6, 3), v2 in any::<bool>()) {
        let codec = [ZarrCodec::None, ZarrCodec::Zstd, ZarrCodec::Blosc][codec as usize];
        let stored: Vec<usize> = stored.into_iter().take(shape.len()).collect();
        let format = if v2 { ZarrFormat::V2 } else { ZarrFormat::V3 };
        let options = ZarrOptions { chunks: Some(stored), codec, shard: None, format, ..ZarrOptions::default() };
        round_trip::<f64>(&shape, chunks.clone(), &options);
        round_trip::<f32>(&shape, chunks.clone(), &ZarrOptions { codec, ..ZarrOptions::default() });
        round_trip::<i64>(&shape, chunks, &options);
    }
}

#[test]
fn sharded_arrays_bools_and_empty_arrays_round_trip() {
    let shard = ZarrOptions {
        chunks: Some(vec![4, 3]),
        codec: ZarrCodec::Zstd,
        shard: Some(vec![8, 6]),
        ..ZarrOptions::default()
    };
    round_trip::<f64>(&[17, 13], ndtask::Chunks::Block(vec![5, 5]), &shard);
    let dir = temp("b.zarr");
    let b = from_ndarray(values::<f64>(&[9, 7], 1).mapv(|v| v > 0.5), [4, 4]).unwrap();
    b.to_zarr(&dir, "/", &ZarrOptions::default())
        .and_then(|w| w.compute())
        .unwrap();
    assert_eq!(
        from_zarr::<bool>(&dir, "/").unwrap().compute().unwrap(),
        b.compute().unwrap()
    );
    let e = ndtask::zeros::<f64>([0, 4], [1, 2]).unwrap();
    e.to_zarr(&dir, "/e", &ZarrOptions::default())
        .and_then(|w| w.compute())
        .unwrap();
    assert_eq!(from_zarr::<f64>(&dir, "/e").unwrap().shape(), vec![0, 4]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_stored_chunks_are_the_chunks_and_a_slice_reads_a_region() {
    let want = values::<f64>(&[40, 30], 2);
    let dir = temp("s.zarr");
    let opts = ZarrOptions {
        chunks: Some(vec![10, 15]),
        ..ZarrOptions::default()
    };
    from_ndarray(want.clone(), [40, 30])
        .unwrap()
        .to_zarr(&dir, "/", &opts)
        .and_then(|w| w.compute())
        .unwrap();
    let x = from_zarr::<f64>(&dir, "/").unwrap();
    assert_eq!(x.chunks(), vec![vec![10; 4], vec![15; 2]]);
    let y = x.slice(s![12..27, 3..9]).unwrap();
    assert_eq!(y.task_graph().unwrap().len(), 2);
    assert_eq!(
        y.compute().unwrap(),
        want.slice(s![12..27, 3..9]).into_dyn()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_the_store_the_array_and_the_chunk() {
    let dir = temp("bad.zarr");
    let e = from_zarr::<f64>(&dir, "/").unwrap_err();
    assert!(
        matches!(&e, Error::Io { what, .. } if what.contains(&dir.display().to_string())),
        "{e}"
    );
    let x = ndtask::arange(0.0, 20.0, 1.0, [5]).unwrap();
    x.to_zarr(&dir, "/x", &ZarrOptions::default())
        .and_then(|w| w.compute())
        .unwrap();
    let e = from_zarr::<i64>(&dir, "/x").unwrap_err();
    assert!(e.to_string().contains("holds f64 values, not i64"), "{e}");
    let e = from_zarr::<f64>(&dir, "/nothing-here").unwrap_err();
    assert!(
        matches!(&e, Error::Io { what, .. } if what.contains("/nothing-here")),
        "{e}"
    );
    let bad = ZarrOptions {
        chunks: Some(vec![4]),
        shard: Some(vec![6]),
        ..ZarrOptions::default()
    };
    let e = x
        .to_zarr(&dir, "/y", &bad)
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("shard shape [6] is not a multiple of the chunk shape [4]"),
        "{e}"
    );
    let v2_sharded = ZarrOptions {
        shard: Some(vec![5]),
        format: ZarrFormat::V2,
        ..ZarrOptions::default()
    };
    let e = x
        .to_zarr(&dir, "/y", &v2_sharded)
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(
        e.to_string().contains("Zarr format 2 has no sharding"),
        "{e}"
    );
    let e = x
        .to_zarr(
            &dir,
            "/y",
            &ZarrOptions {
                chunks: Some(vec![0]),
                ..ZarrOptions::default()
            },
        )
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(
        e.to_string().contains("chunk shape [0] does not fit"),
        "{e}"
    );
    // Writing over an existing array replaces it: no stale chunk of the old one survives, even
    // where the new chunks cover old ones in part.
    let old = ndtask::full::<f64>([20], [5], 9.0).unwrap();
    old.to_zarr(
        &dir,
        "/r",
        &ZarrOptions {
            chunks: Some(vec![8]),
            ..ZarrOptions::default()
        },
    )
    .and_then(|w| w.compute())
    .unwrap();
    let short = ndtask::arange(0.0, 10.0, 1.0, [4]).unwrap();
    short
        .to_zarr(
            &dir,
            "/r",
            &ZarrOptions {
                chunks: Some(vec![3]),
                codec: ZarrCodec::Blosc,
                shard: None,
                format: ZarrFormat::V2,
                ..ZarrOptions::default()
            },
        )
        .and_then(|w| w.compute())
        .unwrap();
    let got = from_zarr::<f64>(&dir, "/r").unwrap();
    assert_eq!(got.compute().unwrap(), short.compute().unwrap());
    // A corrupt chunk: a read error naming the region and the array.
    let chunk = dir.join("x/c/1");
    assert!(chunk.exists(), "{chunk:?}");
    std::fs::write(&chunk, b"garbage").unwrap();
    let e = from_zarr::<f64>(&dir, "/x")
        .unwrap()
        .sum()
        .compute()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { what, .. } if what.contains("reading region [5..10]") && what.contains("/x")),
        "{e}"
    );
    // A missing chunk reads as the fill value.
    std::fs::remove_file(&chunk).unwrap();
    let got = from_zarr::<f64>(&dir, "/x").unwrap().compute().unwrap();
    assert_eq!(got.slice(s![5..10]).sum(), 0.0);
    assert_eq!(got[[12]], 12.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn arrays_zarr_python_writes_read_exactly_and_it_reads_ours() {
    let Some(py) = python(&["numpy", "zarr"]) else {
        return;
    };
    let dir = temp("py");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // The values i * 0.25 - 3 over [30, 20]; chunk [7, 6]; one chunk never written (fill).
    run_python(&py, &format!(
        "import numpy as np, zarr\n\
         import numcodecs\n\
         from zarr.codecs import ZstdCodec\n\
         a = np.arange(600).reshape(30, 20) * 0.25 - 3\n\
         v2 = zarr.create_array('{d}/v2.zarr', shape=a.shape, chunks=(7, 6), dtype='f8', zarr_format=2, compressors=numcodecs.Blosc(cname='lz4', clevel=5, shuffle=numcodecs.Blosc.SHUFFLE))\n\
         v2[:] = a\n\
         v3 = zarr.create_array('{d}/v3.zarr', shape=a.shape, chunks=(7, 6), dtype='f8', compressors=ZstdCodec(level=3), fill_value=-1.0)\n\
         v3[:] = a\n\
         v3[0:7, 0:6] = -1.0\n\
         sh = zarr.create_array('{d}/sh.zarr', shape=a.shape, shards=(14, 12), chunks=(7, 6), dtype='f8', compressors=ZstdCodec(level=3))\n\
         sh[:] = a\n\
         i4 = zarr.create_array('{d}/i4.zarr', shape=a.shape, chunks=(7, 6), dtype='i4')\n\
         i4[:] = np.arange(600).reshape(30, 20) - 300\n"
    ));
    let want = ArrayD::from_shape_fn(IxDyn(&[30, 20]), |i| (i[0] * 20 + i[1]) as f64 * 0.25 - 3.0);
    for s in schedulers() {
        for name in ["v2.zarr", "v3.zarr", "sh.zarr"] {
            let x = from_zarr::<f64>(dir.join(name), "/").unwrap();
            let mut want = want.clone();
            if name == "v3.zarr" {
                // The chunk written with the fill value is not stored: read back as the fill.
                want.slice_mut(s![0..7, 0..6]).fill(-1.0);
            }
            assert_eq!(x.compute_with(&s).unwrap(), want, "{name} on {}", s.name());
            let m = x.mean().compute_with(&s).unwrap();
            assert!(
                (m - want.mean().unwrap()).abs() <= 1e-12 * want.mean().unwrap().abs().max(1.0)
            );
        }
        let i = from_zarr::<i64>(dir.join("i4.zarr"), "/")
            .unwrap()
            .compute_with(&s)
            .unwrap();
        assert_eq!(i, want.mapv(|v| ((v + 3.0) * 4.0) as i64 - 300));
    }
    // ndtask writes (zstd, blosc, sharded; f64, f32, i64, bool); zarr-python checks.
    let x = from_ndarray(want.clone(), [9, 8]).unwrap();
    let opts = |codec, shard: Option<Vec<usize>>| ZarrOptions {
        chunks: Some(vec![7, 6]),
        codec,
        shard,
        format: ZarrFormat::V3,
        ..ZarrOptions::default()
    };
    // Format 2 too, every codec and type.
    let v2 = |codec| ZarrOptions {
        format: ZarrFormat::V2,
        ..opts(codec, None)
    };
    for (name, codec) in [
        ("v2-zstd", ZarrCodec::Zstd),
        ("v2-blosc", ZarrCodec::Blosc),
        ("v2-none", ZarrCodec::None),
    ] {
        x.to_zarr(dir.join("ours.zarr"), &format!("/{name}"), &v2(codec))
            .and_then(|w| w.compute())
            .unwrap();
    }
    x.astype::<f32>()
        .to_zarr(dir.join("ours.zarr"), "/v2-f4", &v2(ZarrCodec::Zstd))
        .and_then(|w| w.compute())
        .unwrap();
    x.astype::<i64>()
        .to_zarr(dir.join("ours.zarr"), "/v2-i8", &v2(ZarrCodec::Blosc))
        .and_then(|w| w.compute())
        .unwrap();
    x.map(|v| v > 0.0)
        .to_zarr(dir.join("ours.zarr"), "/v2-b1", &v2(ZarrCodec::Zstd))
        .and_then(|w| w.compute())
        .unwrap();
    x.to_zarr(dir.join("ours.zarr"), "/zstd", &opts(ZarrCodec::Zstd, None))
        .and_then(|w| w.compute())
        .unwrap();
    x.to_zarr(
        dir.join("ours.zarr"),
        "/blosc",
        &opts(ZarrCodec::Blosc, None),
    )
    .and_then(|w| w.compute())
    .unwrap();
    x.to_zarr(dir.join("ours.zarr"), "/none", &opts(ZarrCodec::None, None))
        .and_then(|w| w.compute())
        .unwrap();
    x.to_zarr(
        dir.join("ours.zarr"),
        "/sharded",
        &opts(ZarrCodec::Zstd, Some(vec![14, 12])),
    )
    .and_then(|w| w.compute())
    .unwrap();
    x.astype::<f32>()
        .to_zarr(dir.join("ours.zarr"), "/f4", &opts(ZarrCodec::Zstd, None))
        .and_then(|w| w.compute())
        .unwrap();
    x.astype::<i64>()
        .to_zarr(dir.join("ours.zarr"), "/i8", &opts(ZarrCodec::Zstd, None))
        .and_then(|w| w.compute())
        .unwrap();
    x.map(|v| v > 0.0)
        .to_zarr(dir.join("ours.zarr"), "/b1", &opts(ZarrCodec::Zstd, None))
        .and_then(|w| w.compute())
        .unwrap();
    run_python(&py, &format!(
        "import numpy as np, zarr\n\
         a = np.arange(600).reshape(30, 20) * 0.25 - 3\n\
         for name, want in [('zstd', a), ('blosc', a), ('none', a), ('sharded', a), ('f4', a.astype(np.float32)), ('i8', a.astype(np.int64)), ('b1', a > 0), ('v2-zstd', a), ('v2-blosc', a), ('v2-none', a), ('v2-f4', a.astype(np.float32)), ('v2-i8', a.astype(np.int64)), ('v2-b1', a > 0)]:\n\
         \x20   z = zarr.open_array('{d}/ours.zarr', path=name, mode='r')\n\
         \x20   assert z.metadata.zarr_format == (2 if name.startswith('v2') else 3), name\n\
         \x20   got = z[:]\n\
         \x20   assert got.dtype == want.dtype and got.shape == want.shape, (name, got.dtype, got.shape)\n\
         \x20   assert np.array_equal(got, want), name\n\
         \x20   assert z.chunks == (7, 6), (name, z.chunks)\n"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    /// Any region, aligned with the stored chunks or not, of a plain, sharded or format-2
    /// target: the region holds the array, the rest of the target is unchanged, on every
    /// scheduler.
    #[test]
    fn a_region_is_stored_into_an_existing_array(
        (shape, chunks) in shape_and_chunks(6),
        at in prop::collection::vec(0usize..5, 3),
        extra in prop::collection::vec(0usize..4, 3),
        kind in 0..3u8,
    ) {
        let nd = shape.len();
        let offset: Vec<usize> = at[..nd].to_vec();
        let total: Vec<usize> = (0..nd).map(|a| offset[a] + shape[a] + extra[a]).collect();
        let before: ArrayD<f64> = values(&total, 11);
        let x: ArrayD<f64> = values(&shape, 12);
        let stored: Vec<usize> = (0..nd).map(|a| 2 + a).collect();
        let options = match kind {
            0 => ZarrOptions { chunks: Some(stored), ..ZarrOptions::default() },
            1 => ZarrOptions {
                shard: Some(stored.iter().map(|c| 2 * c).collect()),
                chunks: Some(stored),
                ..ZarrOptions::default()
            },
            _ => ZarrOptions { chunks: Some(stored), format: ZarrFormat::V2, ..ZarrOptions::default() },
        };
        let mut want = before.clone();
        let region: Vec<ndarray::SliceInfoElem> = (0..nd)
            .map(|a| ndarray::Slice::from(offset[a]..offset[a] + shape[a]).into())
            .collect();
        want.slice_mut(region.as_slice()).assign(&x);
        let dir = temp("store.zarr");
        for s in schedulers() {
            from_ndarray(before.clone(), [3, 3, 3][..nd].to_vec()).unwrap()
                .to_zarr(&dir, "/t", &options).and_then(|w| w.compute()).unwrap();
            from_ndarray(x.clone(), chunks.clone()).unwrap()
                .store_zarr(&dir, "/t", &offset).and_then(|w| w.compute_with(&s)).unwrap();
            let got = from_zarr::<f64>(&dir, "/t").unwrap().compute().unwrap();
            prop_assert_eq!(&got, &want, "{} {:?} at {:?}", s.name(), options, offset);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn storing_a_region_that_does_not_fit_is_an_error_naming_both() {
    let dir = temp("store-bad.zarr");
    ndtask::zeros::<f64>([10, 8], [5, 4])
        .unwrap()
        .to_zarr(&dir, "/t", &ZarrOptions::default())
        .and_then(|w| w.compute())
        .unwrap();
    let x = ndtask::ones::<f64>([4, 4], [2, 2]).unwrap();
    let e = x
        .store_zarr(&dir, "/t", &[7, 0])
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "an array of shape [4, 4] at offset [7, 0] does not fit inside the Zarr array"
        ) && e.to_string().contains("of shape [10, 8]"),
        "{e}"
    );
    let e = x
        .store_zarr(&dir, "/t", &[0])
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let e = x
        .astype::<i64>()
        .store_zarr(&dir, "/t", &[0, 0])
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(e.to_string().contains("this array's are i64"), "{e}");
    let e = x
        .store_zarr(&dir, "/missing", &[0, 0])
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    // Nothing was written by the refused calls.
    let got = from_zarr::<f64>(&dir, "/t")
        .unwrap()
        .sum()
        .compute()
        .unwrap();
    assert_eq!(got, 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stored chunk read whole is decoded straight into the chunk's values (bytes alone or
/// zstd, f64/f32/i64, formats 2 and 3); one whose bytes are another size than its values
/// (a frame of a smaller or a larger chunk, a raw file cut short) is an error naming the
/// region and the array, never values read past or short of what is there.
#[test]
fn a_stored_chunk_of_the_wrong_size_is_an_error_not_a_misread() {
    let dir = temp("size.zarr");
    for (codec, format) in [
        (ZarrCodec::Zstd, ZarrFormat::V3),
        (ZarrCodec::None, ZarrFormat::V3),
        (ZarrCodec::Zstd, ZarrFormat::V2),
    ] {
        let opts = |n| ZarrOptions {
            chunks: Some(vec![n]),
            codec,
            shard: None,
            format,
            ..ZarrOptions::default()
        };
        let x = ndtask::arange(0.0, 12.0, 1.0, [12]).unwrap();
        // Whole chunks and an edge chunk (stored padded) read back exactly, in every type.
        for s in schedulers() {
            x.to_zarr(&dir, "/x", &opts(5))
                .and_then(|w| w.compute_with(&s))
                .unwrap();
            let got = from_zarr::<f64>(&dir, "/x").unwrap();
            assert_eq!(got.compute_with(&s).unwrap(), x.compute().unwrap());
            let i = x.astype::<i64>();
            i.to_zarr(&dir, "/i", &opts(5))
                .and_then(|w| w.compute())
                .unwrap();
            let got = from_zarr::<i64>(&dir, "/i").unwrap();
            assert_eq!(got.compute_with(&s).unwrap(), i.compute().unwrap());
        }
        let f = x.astype::<f32>();
        f.to_zarr(&dir, "/f", &opts(4))
            .and_then(|w| w.compute())
            .unwrap();
        assert_eq!(
            from_zarr::<f32>(&dir, "/f").unwrap().compute().unwrap(),
            f.compute().unwrap()
        );
        // The chunks of arrays chunked by 4 and 6, put where a chunk of 5 belongs.
        x.to_zarr(&dir, "/small", &opts(4))
            .and_then(|w| w.compute())
            .unwrap();
        x.to_zarr(&dir, "/large", &opts(6))
            .and_then(|w| w.compute())
            .unwrap();
        let key = |a: &str| match format {
            ZarrFormat::V3 => dir.join(a).join("c").join("1"),
            ZarrFormat::V2 => dir.join(a).join("1"),
        };
        for other in ["small", "large"] {
            x.to_zarr(&dir, "/x", &opts(5))
                .and_then(|w| w.compute())
                .unwrap();
            std::fs::copy(key(other), key("x")).unwrap();
            let e = from_zarr::<f64>(&dir, "/x").unwrap().compute().unwrap_err();
            assert!(
                matches!(&e, Error::Io { what, .. } if what.contains("reading region [5..10]") && what.contains("/x")),
                "{codec:?} {format:?} {other}: {e}"
            );
        }
        // A chunk cut short.
        x.to_zarr(&dir, "/x", &opts(5))
            .and_then(|w| w.compute())
            .unwrap();
        let bytes = std::fs::read(key("x")).unwrap();
        std::fs::write(key("x"), &bytes[..bytes.len() - 3]).unwrap();
        let e = from_zarr::<f64>(&dir, "/x").unwrap().sum().compute();
        assert!(
            matches!(&e, Err(Error::Io { .. })),
            "{codec:?} {format:?}: {e:?}"
        );
        // Bytes after the values (a second frame, or anything else), read whole or streamed
        // into a reduction.
        x.to_zarr(&dir, "/x", &opts(5))
            .and_then(|w| w.compute())
            .unwrap();
        let mut bytes = std::fs::read(key("x")).unwrap();
        let extra = std::fs::read(key("small")).unwrap();
        bytes.extend_from_slice(&extra);
        std::fs::write(key("x"), &bytes).unwrap();
        let y = from_zarr::<f64>(&dir, "/x").unwrap();
        for e in [y.compute().unwrap_err(), y.sum().compute().unwrap_err()] {
            assert!(
                matches!(&e, Error::Io { what, .. } if what.contains("reading region [5..10]")),
                "{codec:?} {format:?}: {e}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stored chunk of a few MB streams through many reads of its file and many tiles: read
/// whole, summed (streamed into a reduction) and sliced (part of the chunk, through zarrs), it
/// gives the values written, on every scheduler; cut short in the middle, or followed by
/// another frame, it is an error naming the region.
#[test]
fn a_large_stored_chunk_streams_exactly_and_a_damaged_one_is_an_error() {
    let dir = temp("large.zarr");
    let x = ndtask::random::uniform::<f64>([600, 500], [600, 500], 4).unwrap();
    let want = x.compute().unwrap();
    let want_sum = x.sum().compute().unwrap();
    for codec in [ZarrCodec::Zstd, ZarrCodec::None] {
        let options = ZarrOptions {
            codec,
            ..ZarrOptions::default()
        };
        x.to_zarr(&dir, "/x", &options)
            .and_then(|w| w.compute())
            .unwrap();
        let key = dir.join("x").join("c").join("0").join("0");
        assert!(std::fs::metadata(&key).unwrap().len() > 1 << 20);
        let y = from_zarr::<f64>(&dir, "/x").unwrap();
        for s in schedulers() {
            assert_eq!(y.compute_with(&s).unwrap(), want, "{codec:?}");
            let sum = y.sum().compute_with(&s).unwrap();
            assert_eq!(sum.to_bits(), want_sum.to_bits(), "{codec:?}");
        }
        let part = y.slice(s![7..593, 3..401]).unwrap().compute().unwrap();
        assert_eq!(part, want.slice(s![7..593, 3..401]).into_dyn());
        let bytes = std::fs::read(&key).unwrap();
        let mut longer = bytes.clone();
        longer.extend_from_slice(&bytes);
        for damaged in [&bytes[..bytes.len() / 2], &longer[..]] {
            std::fs::write(&key, damaged).unwrap();
            for e in [y.compute().unwrap_err(), y.sum().compute().unwrap_err()] {
                assert!(
                    matches!(&e, Error::Io { what, .. } if what.contains("reading region [0..600, 0..500]")),
                    "{codec:?}: {e}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Stores zarr-python wrote, of every element type it writes that ndtask reads, open without a
/// type parameter ([`ndtask::open_zarr`]) and give NumPy's statistics (integer sums exact) on
/// every scheduler; the anomaly against the mean over axis 0 is float64 for integers and bools
/// (float32 for float32), and zarr-python reads it back as NumPy computes it.
#[test]
fn stores_of_every_type_open_without_a_type_parameter() {
    let Some(py) = python(&["numpy", "zarr"]) else {
        return;
    };
    let dir = temp("types");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    run_python(&py, &format!(
        "import numpy as np, zarr, json\n\
         rng = np.random.default_rng(11)\n\
         s = (29, 17)\n\
         arrs = dict(f8=rng.uniform(-5, 5, s), f4=rng.uniform(-5, 5, s).astype('f4'),\n\
         \x20 i8=rng.integers(-9, 9, s) + 2**44, i4=rng.integers(-2**31, 2**31 - 1, s, dtype='i4'),\n\
         \x20 u1=rng.integers(0, 256, s, dtype='u1'), b1=rng.random(s) < 0.3)\n\
         want = {{}}\n\
         for k, a in arrs.items():\n\
         \x20 for fmt in (2, 3):\n\
         \x20   z = zarr.create_array('{d}/' + k + '-v' + str(fmt) + '.zarr', shape=s, chunks=(8, 5), dtype=a.dtype, zarr_format=fmt)\n\
         \x20   z[:] = a\n\
         \x20 integer = a.dtype.kind in 'iub'\n\
         \x20 f = a.astype('f8')\n\
         \x20 want[k] = dict(sum=int(a.sum(dtype='i8')) if integer else float(a.sum(dtype='f8')), mean=float(f.mean()), min=float(f.min()), max=float(f.max()))\n\
         json.dump(want, open('{d}/want.json', 'w'))\n"
    ));
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("want.json")).unwrap()).unwrap();
    for (k, dtype, stored) in [
        ("f8", ndtask::DType::F64, "f64"),
        ("f4", ndtask::DType::F32, "f32"),
        ("i8", ndtask::DType::I64, "i64"),
        ("i4", ndtask::DType::I64, "i32"),
        ("u1", ndtask::DType::I64, "u8"),
        ("b1", ndtask::DType::Bool, "bool"),
    ] {
        for fmt in [2, 3] {
            let path = dir.join(format!("{k}-v{fmt}.zarr"));
            let x = ndtask::open_zarr(&path, "/").unwrap();
            assert_eq!(
                (x.dtype(), x.stored_dtype().as_str()),
                (dtype, stored),
                "{k}"
            );
            assert_eq!(x.chunks()[0], vec![8, 8, 8, 5]);
            let w = &want[k];
            for s in schedulers() {
                let (sum, mean, min, max) =
                    s.compute((x.sum(), x.mean(), x.min(), x.max())).unwrap();
                match sum {
                    ndtask::AnyValue::I64(v) => assert_eq!(v, w["sum"].as_i64().unwrap(), "{k}"),
                    v => {
                        let t = if k == "f4" { 1e-5 } else { 1e-12 };
                        let e = w["sum"].as_f64().unwrap();
                        assert!((v.to_f64() - e).abs() <= t * e.abs().max(1.0), "{k}");
                    }
                }
                for (got, name) in [(mean, "mean"), (min, "min"), (max, "max")] {
                    let e = w[name].as_f64().unwrap();
                    assert!(
                        (got.to_f64() - e).abs() <= 1e-12 * e.abs().max(1.0),
                        "{k} {name}"
                    );
                }
            }
            if fmt == 3 {
                // The anomaly, as zarr_tool writes it.
                let mean = match x.dtype() {
                    ndtask::DType::F32 => x.mean_axis(0).unwrap().astype(ndtask::DType::F32),
                    _ => x.mean_axis(0).unwrap(),
                };
                let anomaly = x.try_sub(&mean).unwrap();
                let out = dir.join(format!("{k}-anomaly.zarr"));
                anomaly
                    .to_zarr(&out, "/", &ZarrOptions::default())
                    .and_then(|w| w.compute())
                    .unwrap();
            }
        }
    }
    run_python(&py, &format!(
        "import numpy as np, zarr\n\
         for k, t in [('f8', 'float64'), ('f4', 'float32'), ('i8', 'float64'), ('i4', 'float64'), ('u1', 'float64'), ('b1', 'float64')]:\n\
         \x20 a = zarr.open_array('{d}/' + k + '-v3.zarr', mode='r')[:]\n\
         \x20 got = zarr.open_array('{d}/' + k + '-anomaly.zarr', mode='r')[:]\n\
         \x20 assert str(got.dtype) == t, (k, got.dtype)\n\
         \x20 want = a.astype('f8') - a.astype('f8').mean(axis=0)\n\
         \x20 tol = 1e-5 if k == 'f4' else 1e-9\n\
         \x20 assert np.allclose(got, want, rtol=tol, atol=tol), k\n"
    ));
    // A store or an array that is not there is named as such.
    let missing = dir.join("nowhere.zarr");
    let e = ndtask::open_zarr(&missing, "/").unwrap_err().to_string();
    assert!(
        e.contains("no such directory") && e.contains(&missing.display().to_string()),
        "{e}"
    );
    let e = ndtask::open_zarr(dir.join("f8-v3.zarr"), "/nope")
        .unwrap_err()
        .to_string();
    assert!(e.contains("there is no array at \"/nope\""), "{e}");
    let e = from_zarr::<f64>(dir.join("i4-v2.zarr"), "/")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("holds i64 values, not f64"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
