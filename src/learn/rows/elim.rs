//! Per-row elimination: the min-weight order, the bucket tree, elimination and backward
//! sampling of one row's missing cells.

use rand::Rng;

use super::*;
use crate::data::MISSING;
use crate::error::{Error, Result};
use crate::factor::elim::{self, InteractionGraph};
use crate::factor::TableFactor;
use crate::num;
use crate::var::{Evidence, VarId};

/// Greedy min-weight order eliminating `vars` except `keep`
/// ([`crate::factor::elim::min_weight_order`] on the factors' interaction graph, ties by the
/// lower variable index); errors with [`Error::TooLarge`] when a table would exceed `limit`
/// entries.
pub(crate) fn min_weight_order(
    cards: &[usize],
    factors: &[TableFactor],
    vars: &[u32],
    keep: &[u32],
    limit: usize,
) -> Result<Vec<u32>> {
    // local vertex ids in the order of the global ones, so that ties go to the lower variable
    let mut verts: Vec<u32> = factors
        .iter()
        .flat_map(|f| f.scope().iter().map(|v| v.0))
        .chain(vars.iter().copied())
        .collect();
    verts.sort_unstable();
    verts.dedup();
    let local = |v: u32| verts.binary_search(&v).expect("a vertex of the graph") as u32;
    let scopes: Vec<Vec<u32>> = factors
        .iter()
        .map(|f| f.scope().iter().map(|v| local(v.0)).collect())
        .collect();
    let g = InteractionGraph::from_cliques(
        verts.iter().map(|&v| cards[v as usize] as f64).collect(),
        scopes.iter().map(Vec::as_slice),
    );
    let eliminate: Vec<u32> = vars
        .iter()
        .filter(|v| !keep.contains(v))
        .map(|&v| local(v))
        .collect();
    match elim::min_weight_order(&g, &eliminate, limit as f64) {
        Ok(e) => Ok(e.order.iter().map(|&i| verts[i as usize]).collect()),
        Err(o) => Err(Error::TooLarge {
            width: o.width,
            largest_table: o.entries,
            needed: o.entries * 8.0,
            limit: limit as f64 * 8.0,
        }),
    }
}

/// Build and calibrate the bucket tree of a component; returns `ln Z` of the component.
pub(crate) fn bucket_tree(
    vars: Vec<u32>,
    factors: Vec<TableFactor>,
    plans: Vec<CpdPlan>,
    order: Vec<u32>,
) -> Result<(f64, BucketTree)> {
    let k = order.len();
    let mut pos = std::collections::HashMap::with_capacity(k);
    for (i, &v) in order.iter().enumerate() {
        pos.insert(v, i);
    }
    let first = |f: &TableFactor| -> Option<usize> {
        f.scope()
            .iter()
            .filter_map(|v| pos.get(&v.0).copied())
            .min()
    };
    let mut bucket_of_factor = Vec::with_capacity(factors.len());
    let mut orig: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    let mut z = 0.0;
    for f in &factors {
        match first(f) {
            Some(b) => {
                orig[b] = orig[b].product(f);
                bucket_of_factor.push(b);
            }
            None => {
                // no component variable left (cannot happen for a relevant CPD); a constant
                z += f.log_sum();
                bucket_of_factor.push(usize::MAX);
            }
        }
    }
    // upward
    let mut inbox: Vec<Vec<(usize, TableFactor)>> = vec![Vec::new(); k];
    let mut prods = Vec::with_capacity(k);
    let mut parent = vec![usize::MAX; k];
    for i in 0..k {
        let mut prod = orig[i].clone();
        for (_, m) in &inbox[i] {
            prod = prod.product(m);
        }
        let msg = prod.marginalize(&[VarId(order[i])]);
        match first(&msg) {
            Some(p) => {
                parent[i] = p;
                inbox[p].push((i, msg));
            }
            None => z += msg.log_sum(),
        }
        prods.push(prod);
    }
    // downward (nothing to calibrate when the component has probability zero)
    let beliefs = if z == f64::NEG_INFINITY {
        Vec::new()
    } else {
        downward(&orig, &inbox)?
    };
    let _ = parent;
    Ok((
        z,
        BucketTree {
            vars,
            factors,
            plans,
            order,
            prods,
            beliefs,
            bucket_of_factor,
        },
    ))
}

/// The calibrated (normalised) belief of every bucket: the messages from each bucket's parent
/// down the tree, given the buckets' own factors `orig` and the upward messages `inbox`.
fn downward(orig: &[TableFactor], inbox: &[Vec<(usize, TableFactor)>]) -> Result<Vec<TableFactor>> {
    let k = orig.len();
    // the message into bucket i from its parent
    let mut down: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    let mut beliefs: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    for i in (0..k).rev() {
        let base = orig[i].product(&down[i]);
        let mut belief = base.clone();
        for (_, m) in &inbox[i] {
            belief = belief.product(m);
        }
        for (ci, (c, m)) in inbox[i].iter().enumerate() {
            let mut t = base.clone();
            for (cj, (_, m2)) in inbox[i].iter().enumerate() {
                if cj != ci {
                    t = t.product(m2);
                }
            }
            let drop: Vec<VarId> = t
                .scope()
                .iter()
                .copied()
                .filter(|v| m.position(*v).is_none())
                .collect();
            down[*c] = t.marginalize(&drop);
        }
        let (b, _) = belief.normalize()?;
        beliefs[i] = b;
    }
    Ok(beliefs)
}

/// Advance a mixed-radix counter (last variable fastest) and the CPD indices that follow it.
#[inline]
pub(crate) fn odometer(
    x: &mut [usize],
    vars: &[u32],
    cards: &[usize],
    var_in: &[Vec<(usize, usize)>],
    idx: &mut [usize],
) -> usize {
    let mut j = x.len();
    while j > 0 {
        j -= 1;
        let k = cards[vars[j] as usize];
        x[j] += 1;
        if x[j] < k {
            for &(p, s) in &var_in[j] {
                idx[p] += s;
            }
            return j;
        }
        x[j] = 0;
        for &(p, s) in &var_in[j] {
            idx[p] -= s * (k - 1);
        }
    }
    0
}

pub(crate) fn evidence_of(row: &[u16]) -> Evidence {
    Evidence::from_options(
        row.iter()
            .map(|&x| (x != MISSING).then_some(x as usize))
            .collect(),
    )
}

/// Eliminate `order` from the factors (sum, or max when `max`), returning the product of what is
/// left. When `store` is given, the product table built at each step is kept (for backward
/// sampling / traceback).
pub(crate) fn eliminate(
    mut factors: Vec<TableFactor>,
    order: &[u32],
    max: bool,
    mut store: Option<&mut Vec<TableFactor>>,
) -> TableFactor {
    for &v in order {
        let id = VarId(v);
        let (with, without): (Vec<_>, Vec<_>) =
            factors.into_iter().partition(|f| f.position(id).is_some());
        factors = without;
        let mut prod = TableFactor::scalar(0.0);
        for f in &with {
            prod = prod.product(f);
        }
        let m = if max {
            prod.max_marginalize(&[id])
        } else {
            prod.marginalize(&[id])
        };
        if let Some(s) = store.as_deref_mut() {
            s.push(prod);
        }
        factors.push(m);
    }
    let mut prod = TableFactor::scalar(0.0);
    for f in &factors {
        prod = prod.product(f);
    }
    prod
}

/// Sample (or maximise) the eliminated variables backwards from the stored product tables.
pub(crate) fn backward<R: Rng + ?Sized>(
    stored: &[TableFactor],
    order: &[u32],
    assign: &mut Evidence,
    vars: &[crate::var::Variable],
    mut rng: Option<&mut R>,
) -> Result<()> {
    for (f, &v) in stored.iter().zip(order).rev() {
        let r = f.reduce(assign);
        // r has scope {v} (every other variable of f was eliminated later, so is assigned)
        let lv = r.log_values();
        let s = match rng.as_deref_mut() {
            Some(g) => num::draw_log(lv, g)?,
            None => argmax(lv),
        };
        assign.set(vars, VarId(v), s)?;
    }
    Ok(())
}

pub(crate) fn argmax(xs: &[f64]) -> usize {
    let mut b = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[b] {
            b = i;
        }
    }
    b
}
