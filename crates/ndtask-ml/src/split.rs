//! Splitting chunked samples into a training and a test set (scikit-learn's and Dask-ML's
//! `train_test_split`), chosen by a keyed hash of each row's position, so the split does not
//! depend on the chunking, scheduler or rank count.

use crate::kmeans::mix;
use crate::rows::{each_row, positions, RowChunks};
use ndarray::{s, Array2, Ix2};
use ndtask_array::{Array, Config};
use ndtask_core::{Chunks, Error, Result};

/// The four arrays of a split.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// The training samples.
    pub x_train: Array<f64>,
    /// The test samples.
    pub x_test: Array<f64>,
    /// The training labels or targets.
    pub y_train: Array<f64>,
    /// The test labels or targets.
    pub y_test: Array<f64>,
}

/// Splits the samples `x` (samples x features) and their labels `y` (one per sample) into a
/// training and a test set, the test set `ceil(test_size * samples)` rows (scikit-learn's
/// count). The test rows are those whose position has the smallest keyed hash for `seed`: a
/// random choice of exactly that many rows, the same for every chunking. Rows keep their order
/// (scikit-learn also shuffles them); each output chunk holds the chosen rows of one input
/// chunk (input chunks with none chosen are merged with the next). Computes a few small passes to find the rows; the split arrays are lazy.
///
/// # Errors
/// [`Error::InvalidArgument`] for `x` not 2-D, `y` of another length, a `test_size` not
/// strictly between 0 and 1, or a split that leaves either side empty; the computation's
/// error.
pub fn train_test_split(
    x: &Array<f64>,
    y: &Array<f64>,
    test_size: f64,
    seed: u64,
    config: &Config,
) -> Result<TrainTest> {
    let (s, table) = crate::joined("train_test_split", "labels", x, y, true)?;
    let (n, f) = (s.rows, s.features);
    let n_test = (test_size * n as f64).ceil();
    if !(test_size > 0.0 && test_size < 1.0) || n_test < 1.0 || n_test >= n as f64 {
        return Err(Error::InvalidArgument(format!(
            "train_test_split: test_size = {test_size} of {n} samples leaves {n_test} test samples; \
             test_size must be in (0, 1) and leave both sets at least one sample"
        )));
    }
    let n_test = n_test as u64;
    let table = RowChunks::new(&table)?;
    // The table's row chunks: x's and y's boundaries together. The counting passes read only
    // the positions, in the same chunks.
    let rows = table.x.chunks()[0].clone();
    let positions = RowChunks::new(&positions(rows.clone())?)?;
    let key = move |position: f64| mix(seed ^ mix(position as u64));
    // The n_test-th smallest key, a byte at a time from the top: each pass counts the keys
    // under the prefix found so far by their next byte.
    let (mut prefix, mut below) = (0u64, 0u64);
    for byte in (0..8).rev() {
        let shift = byte * 8;
        let high = if byte == 7 {
            0
        } else {
            u64::MAX << (shift + 8)
        };
        let parts = positions.pass(256, config, move |chunk| {
            let mut counts = vec![0i64; 256];
            for r in chunk {
                let k = key(r[0]);
                if k & high == prefix {
                    counts[((k >> shift) & 0xFF) as usize] += 1;
                }
            }
            counts
        })?;
        let counts: Vec<u64> = parts
            .columns()
            .into_iter()
            .map(|c| c.sum() as u64)
            .collect();
        for (b, &c) in counts.iter().enumerate() {
            if below + c >= n_test {
                prefix |= (b as u64) << shift;
                break;
            }
            below += c;
        }
    }
    // The keys are distinct (the hash is a bijection of the position): the test rows are
    // those with a key up to `prefix`.
    let last = prefix;
    let parts = positions.pass(1, config, move |chunk| {
        vec![chunk.filter(|r| key(r[0]) <= last).count() as i64]
    })?;
    let tests: Vec<usize> = parts.column(0).iter().map(|&c| c as usize).collect();
    let trains: Vec<usize> = rows.iter().zip(&tests).map(|(&r, &t)| r - t).collect();
    let side = |test: bool, counts: Vec<usize>| -> Result<(Array<f64>, Array<f64>)> {
        let (rows, counts) = merge_empty(&rows, &counts);
        let total = counts.iter().sum::<usize>();
        let source = table.x.rechunk(Chunks::Explicit(vec![rows, vec![f + 2]]))?;
        let picked = source.try_map_blocks_with_chunks(
            [total, f + 2],
            Chunks::Explicit(vec![counts, vec![f + 2]]),
            move |chunk| {
                let block = chunk
                    .into_dimensionality::<Ix2>()
                    .map_err(Error::internal)?;
                let kept: Vec<Vec<f64>> = each_row(block, |r| r.to_vec())
                    .into_iter()
                    .filter(|r| (key(r[f + 1]) <= last) == test)
                    .collect();
                let m = kept.len();
                Ok(Array2::from_shape_vec((m, f + 2), kept.concat())
                    .map_err(Error::internal)?
                    .into_dyn())
            },
        )?;
        Ok((picked.slice(s![.., 0..f])?, picked.slice(s![.., f])?))
    };
    let (x_test, y_test) = side(true, tests)?;
    let (x_train, y_train) = side(false, trains)?;
    Ok(TrainTest {
        x_train,
        x_test,
        y_train,
        y_test,
    })
}

/// Row chunks merged with their neighbours so that each keeps at least one of its `counts`
/// rows (chunks may not be empty): the merged row chunks and their counts. At least one count
/// is above 0.
fn merge_empty(rows: &[usize], counts: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let (mut r, mut c) = (Vec::new(), Vec::new());
    let (mut held_rows, mut held) = (0, 0);
    for (&n, &k) in rows.iter().zip(counts) {
        held_rows += n;
        held += k;
        if held > 0 {
            r.push(held_rows);
            c.push(held);
            (held_rows, held) = (0, 0);
        }
    }
    // Trailing chunks that kept nothing join the last group.
    if let (Some(last), true) = (r.last_mut(), held_rows > 0) {
        *last += held_rows;
    }
    (r, c)
}
