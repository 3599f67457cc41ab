//! Arithmetic trees: inside every fused kernel, float arithmetic of depth two
//! (`x * x + y * y`, `(x + 1) * 2`) becomes one step, monomorphised for its operators (see
//! `exec::arith_trees`). An arithmetic step absorbs each operand that is an arithmetic step read by
//! it alone (or, for a square, reads twice); the tree's scalars live in the kernel and a tile it
//! reads twice is one input. The IEEE operations and their order are unchanged, so the bits
//! are.

use crate::exec::arith_trees::{compile_tree, TreeLeaf, TreeShape};
use crate::exec::program::{Program, Step};
use crate::lower::physical::{Pass, PhysicalPlan};
use crate::plan::arith::{ArithInput, ArithOp};
use crate::plan::passes::Enabled;
use crate::plan::MapKernel;
use ndtask_core::{Buf, DType, Result};
use std::sync::Arc;

/// The arithmetic-tree pass.
pub(crate) struct ArithmeticTrees;

impl Pass for ArithmeticTrees {
    fn name(&self) -> &'static str {
        "arithmetic-trees"
    }
    fn run(&self, plan: &mut PhysicalPlan, _: &Enabled) -> Result<()> {
        for region in plan.regions.values_mut() {
            let (steps, dtypes) = region.program.clone().into_steps();
            let (steps, dtypes) = compile_trees(steps, dtypes);
            region.program = Program::from_steps(steps, dtypes);
        }
        Ok(())
    }
}

/// An operand of an arithmetic step, resolved to the program: a step's tile or a scalar.
enum Leg {
    Step(usize),
    Scalar(Buf),
}

/// An arithmetic step: its operator and operands.
struct ArithStep {
    op: ArithOp,
    legs: [Leg; 2],
    name: String,
}

/// A compiled tree: its kernel and the steps its input tiles come from (original numbering).
type CompiledTree = (Arc<dyn MapKernel>, Vec<usize>);

fn arith_step(step: &Step) -> Option<ArithStep> {
    let Step::Map(kernel, args) = step else {
        return None;
    };
    let view = kernel.arith()?;
    let [l, r] = view.operands;
    let leg = |o: ArithInput| match o {
        ArithInput::Input(k) => args.get(k).map(|&a| Leg::Step(a)),
        ArithInput::Scalar(b) => Some(Leg::Scalar(b)),
    };
    Some(ArithStep {
        op: view.op,
        legs: [leg(l)?, leg(r)?],
        name: kernel.name(),
    })
}

/// Compiles trees of float arithmetic of depth two into one kernel each (see `arith.rs`):
/// an arithmetic step absorbs each operand that is an arithmetic step read by it alone; the
/// tree's scalars live in the kernel and a tile it reads twice is one input. Walking from the
/// result backwards, a step that is absorbed absorbs nothing itself, so every tree has depth
/// two at most.
fn compile_trees(steps: Vec<Step>, dtypes: Vec<DType>) -> (Vec<Step>, Vec<DType>) {
    let n = steps.len();
    let views: Vec<Option<ArithStep>> = steps.iter().map(arith_step).collect();
    let mut reads = vec![0usize; n];
    for s in &steps {
        if let Step::Map(_, args) = s {
            args.iter().for_each(|&a| reads[a] += 1);
        }
    }
    if let Some(r) = reads.last_mut() {
        *r += 1; // the sink reads the result
    }
    let mut trees: Vec<Option<CompiledTree>> = vec![None; n];
    let mut absorbed = vec![false; n];
    for j in (0..n).rev() {
        let Some(root) = views[j].as_ref().filter(|_| !absorbed[j]) else {
            continue;
        };
        // A square of a step that only it reads (`(x - m) * (x - m)`) absorbs that step as
        // both operands: the tree computes it twice, in the same IEEE operations, instead of
        // making a tile of it.
        let square = matches!(&root.legs, [Leg::Step(a), Leg::Step(b)] if a == b);
        let kid = |leg: &Leg| match *leg {
            Leg::Step(k)
                if (reads[k] == 1 || square && reads[k] == 2) && dtypes[k] == dtypes[j] =>
            {
                views[k].as_ref().map(|v| (k, v))
            }
            _ => None,
        };
        let kids = [kid(&root.legs[0]), kid(&root.legs[1])];
        let shape = match kids {
            [None, None] => continue,
            [Some(_), Some(_)] => TreeShape::Both,
            [Some(_), None] => TreeShape::Left,
            [None, Some(_)] => TreeShape::Right,
        };
        let mut ops = Vec::new();
        let mut names = Vec::new();
        // The operands left to right; a kid's second operand that repeats its first is marked.
        let mut leaves = Vec::new();
        let mut inputs: Vec<usize> = Vec::new();
        let mut input = |k: usize| match inputs.iter().position(|&i| i == k) {
            Some(p) => TreeLeaf::Input(p),
            None => {
                inputs.push(k);
                TreeLeaf::Input(inputs.len() - 1)
            }
        };
        let mut leaf = |leg: &Leg| match leg {
            Leg::Step(k) => input(*k),
            Leg::Scalar(one) => TreeLeaf::Scalar(one.clone()),
        };
        for (leg, kid) in root.legs.iter().zip(kids) {
            match kid {
                Some((_, v)) => {
                    ops.push(v.op);
                    names.push(v.name.as_str());
                    let [x, y] = &v.legs;
                    let same = matches!((x, y), (Leg::Step(p), Leg::Step(q)) if p == q);
                    leaves.push(leaf(x));
                    leaves.push(if same { TreeLeaf::Partner } else { leaf(y) });
                }
                None => leaves.push(leaf(leg)),
            }
        }
        ops.push(root.op);
        let name = format!("{}({})", root.name, names.join(", "));
        if let Some(kernel) = compile_tree(dtypes[j], shape, &ops, &leaves, name) {
            kids.iter().flatten().for_each(|&(k, _)| absorbed[k] = true);
            trees[j] = Some((kernel, inputs));
        }
    }
    let mut out_steps = Vec::with_capacity(n);
    let mut out_dtypes = Vec::with_capacity(n);
    let mut at = vec![usize::MAX; n];
    for (i, (step, tree)) in steps.iter().zip(trees).enumerate() {
        if absorbed[i] {
            continue;
        }
        let step = match tree {
            Some((kernel, inputs)) => Step::Map(kernel, inputs.iter().map(|&k| at[k]).collect()),
            None => step.renumbered(&at),
        };
        out_steps.push(step);
        out_dtypes.push(dtypes[i]);
        at[i] = out_steps.len() - 1;
    }
    (out_steps, out_dtypes)
}
