//! Random expression chains (creation -> element-wise with broadcasting and `where_` ->
//! slicing / rechunk / transpose -> reduction) over random shapes, with inputs chunked
//! differently from each other and computed inputs, against eager ndarray on the sync and
//! threaded schedulers. The same chains run under MPI in `examples/mpi_check.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::chain::{chain, matches};
use common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_chains_match_ndarray(seed in any::<u64>()) {
        let c = chain(seed);
        prop_assert_eq!(c.lazy.shape(), c.eager.shape().to_vec(), "{}", c.text);
        for s in schedulers() {
            let got = c.lazy.compute_with(&s).unwrap_or_else(|e| panic!("{}: {e}", c.text));
            prop_assert!(matches(&c, &got), "{} on {}: got {:?}, want {:?}", c.text, s.name(), got, c.eager);
        }
    }
}
