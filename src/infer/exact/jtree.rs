//! Junction tree built from an elimination order, with Hugin-style message passing in scaled
//! linear arithmetic (each table normalised to max 1 with its log scale kept aside).

use super::kernel::{self, Input};
use super::order::{Elimination, InteractionGraph};
use super::ExactOptions;
use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::num;
use crate::var::{Evidence, VarId};

/// The reduced problem: factors with evidence and domain-1 variables removed, over a compact
/// local variable numbering.
pub(crate) struct Problem {
    /// cardinality per local variable
    pub cards: Vec<usize>,
    /// (local sorted scope, normalised linear values, log scale)
    pub factors: Vec<(Vec<u32>, Vec<f64>, f64)>,
    /// sum of log constants from factors whose whole scope was observed
    pub log_const: f64,
    /// index, among the factors given, of each reduced factor
    pub orig: Vec<usize>,
    /// global -> local (u32::MAX if not in the graph)
    pub local: Vec<u32>,
}

impl Problem {
    /// Reduce `factors` (over a model with cardinalities `cards`) by the evidence.
    pub fn new<'a>(
        cards: &[usize],
        factors: impl IntoIterator<Item = &'a TableFactor>,
        ev: &Evidence,
    ) -> Result<Problem> {
        let mut eff: Vec<Option<usize>> =
            (0..cards.len()).map(|i| ev.get(VarId(i as u32))).collect();
        for (i, &c) in cards.iter().enumerate() {
            if c == 1 && eff[i].is_none() {
                eff[i] = Some(0);
            }
        }
        let eff = Evidence::from_options(eff);
        let mut reduced = Vec::new();
        let mut log_const = 0.0;
        let mut used = vec![false; cards.len()];
        let mut orig = Vec::new();
        for (k, f) in factors.into_iter().enumerate() {
            let r = if f.scope().iter().any(|v| eff.get(*v).is_some()) {
                f.reduce(&eff)
            } else {
                f.clone()
            };
            if r.scope().is_empty() {
                log_const += r.log_values()[0];
                continue;
            }
            for v in r.scope() {
                used[v.index()] = true;
            }
            reduced.push(r);
            orig.push(k);
        }
        if log_const == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
        let mut local = vec![u32::MAX; cards.len()];
        let mut global = Vec::new();
        let mut lcards = Vec::new();
        for (i, &u) in used.iter().enumerate() {
            if u {
                local[i] = global.len() as u32;
                global.push(VarId(i as u32));
                lcards.push(cards[i]);
            }
        }
        let mut lf = Vec::with_capacity(reduced.len());
        for f in reduced {
            let scope: Vec<u32> = f.scope().iter().map(|v| local[v.index()]).collect();
            let (mx, vals) = num::exp_shifted(f.log_values());
            if mx == f64::NEG_INFINITY {
                return Err(Error::ZeroProbabilityEvidence);
            }
            lf.push((scope, vals, mx));
        }
        let _ = global;
        Ok(Problem {
            cards: lcards,
            factors: lf,
            log_const,
            orig,
            local,
        })
    }

    pub fn graph(&self) -> InteractionGraph {
        InteractionGraph::from_cliques(
            self.cards.iter().map(|&c| c as f64).collect(),
            self.factors.iter().map(|f| f.0.as_slice()),
        )
    }
}

/// One clique of the tree.
pub(crate) struct Node {
    /// variables in table layout order: separator with the parent first, then the rest
    pub vars: Vec<u32>,
    pub cards: Vec<usize>,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// number of leading `vars` shared with the parent
    pub sep_len: usize,
    /// factors assigned here
    pub factors: Vec<usize>,
}

impl Node {
    pub fn size(&self) -> usize {
        self.cards.iter().product()
    }
    fn sep_size(&self) -> usize {
        self.cards[..self.sep_len].iter().product()
    }
}

/// A junction tree: cliques, their layout, and a post-order.
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub post: Vec<usize>,
    pub elim: Elimination,
}

fn stride_map(outer: &[u32], inner: &[u32], inner_cards: &[usize]) -> Vec<usize> {
    let st = crate::factor::index::strides(inner_cards);
    outer
        .iter()
        .map(|v| inner.iter().position(|u| u == v).map_or(0, |p| st[p]))
        .collect()
}

impl Tree {
    /// The tree of the best order found; [`Error::TooLarge`] when every candidate order has a
    /// clique whose table alone passes the memory limit (planning gives up on an order at its
    /// first such clique).
    pub fn build(p: &Problem, opts: &ExactOptions) -> Result<Tree> {
        let g = p.graph();
        let elim = crate::factor::elim::elimination_order_within(
            &g,
            opts.heuristic,
            opts.restarts,
            opts.seed,
            (opts.memory_limit / 8.0).max(1.0),
        )
        .map_err(|o| Error::TooLarge {
            width: o.width,
            largest_table: o.entries,
            needed: 8.0 * o.entries,
            limit: opts.memory_limit,
        })?;
        let n = elim.order.len();
        let mut pos = vec![0usize; n];
        for (k, &v) in elim.order.iter().enumerate() {
            pos[v as usize] = k;
        }
        // elimination-tree parent of each clique
        let eparent: Vec<Option<usize>> = elim
            .cliques
            .iter()
            .map(|c| c[1..].iter().map(|&u| pos[u as usize]).min())
            .collect();
        // merge a parent clique into a child that contains it
        let mut rep: Vec<usize> = (0..n).collect();
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut absorbed = vec![false; n];
        let find = |rep: &Vec<usize>, mut x: usize| {
            while rep[x] != x {
                x = rep[x];
            }
            x
        };
        for k in 0..n {
            let mut par = eparent[k];
            while let Some(pk) = par {
                let pk_r = find(&rep, pk);
                if pk_r == pk
                    && !absorbed[pk]
                    && elim.cliques[pk].len() < elim.cliques[k].len()
                    && {
                        let ck = &elim.cliques[k];
                        elim.cliques[pk].iter().all(|u| ck.contains(u))
                    }
                {
                    absorbed[pk] = true;
                    rep[pk] = k;
                    par = eparent[pk];
                } else {
                    par = Some(pk_r);
                    break;
                }
            }
            parent[k] = par.map(|x| find(&rep, x));
        }
        // final parent links through representatives
        let keep: Vec<usize> = (0..n).filter(|&k| rep[k] == k).collect();
        let mut node_of = vec![usize::MAX; n];
        for (i, &k) in keep.iter().enumerate() {
            node_of[k] = i;
        }
        let mut nodes: Vec<Node> = keep
            .iter()
            .map(|&k| {
                let par = parent[k].map(|x| node_of[find(&rep, x)]);
                Node {
                    vars: elim.cliques[k].clone(),
                    cards: vec![],
                    parent: par,
                    children: vec![],
                    sep_len: 0,
                    factors: vec![],
                }
            })
            .collect();
        for i in 0..nodes.len() {
            if let Some(pi) = nodes[i].parent {
                nodes[pi].children.push(i);
            }
        }
        // layouts: separator (sorted) first, then the rest (sorted)
        for i in 0..nodes.len() {
            let mut vars = nodes[i].vars.clone();
            vars.sort_unstable();
            let (sep, rest): (Vec<u32>, Vec<u32>) = match nodes[i].parent {
                Some(pi) => {
                    let pv = &nodes[pi].vars;
                    vars.iter().partition(|v| pv.contains(v))
                }
                None => (vec![], vars),
            };
            let sep_len = sep.len();
            let lay: Vec<u32> = sep.into_iter().chain(rest).collect();
            nodes[i].cards = lay.iter().map(|&v| p.cards[v as usize]).collect();
            nodes[i].vars = lay;
            nodes[i].sep_len = sep_len;
        }
        // assign factors: clique of the earliest-eliminated scope variable
        for (fi, f) in p.factors.iter().enumerate() {
            let k =
                f.0.iter()
                    .map(|&v| pos[v as usize])
                    .min()
                    .expect("non-empty scope");
            nodes[node_of[find(&rep, k)]].factors.push(fi);
        }
        // post-order (children first)
        let mut post = Vec::with_capacity(nodes.len());
        let mut stack: Vec<(usize, bool)> = (0..nodes.len())
            .filter(|&i| nodes[i].parent.is_none())
            .map(|i| (i, false))
            .collect();
        stack.reverse();
        while let Some((i, done)) = stack.pop() {
            if done {
                post.push(i);
            } else {
                stack.push((i, true));
                for &c in nodes[i].children.iter().rev() {
                    stack.push((c, false));
                }
            }
        }
        Ok(Tree { nodes, post, elim })
    }

    /// Peak bytes: one clique table at a time plus the separator messages (one direction for a
    /// collect pass that frees them as it goes, both directions for a calibration).
    pub fn bytes_needed(&self, calibrate: bool) -> f64 {
        let clique: f64 = self
            .nodes
            .iter()
            .map(|n| n.cards.iter().map(|&c| c as f64).product::<f64>())
            .sum();
        let sep: f64 = self
            .nodes
            .iter()
            .map(|n| {
                n.cards[..n.sep_len]
                    .iter()
                    .map(|&c| c as f64)
                    .product::<f64>()
            })
            .sum();
        let max_c = self
            .nodes
            .iter()
            .map(|n| n.cards.iter().map(|&c| c as f64).product::<f64>())
            .fold(0.0, f64::max);
        let _ = clique;
        if calibrate {
            8.0 * (max_c + 2.0 * sep)
        } else {
            8.0 * (max_c + sep)
        }
    }

    pub fn check_memory(&self, calibrate: bool, opts: &ExactOptions) -> Result<()> {
        let need = self.bytes_needed(calibrate);
        if need > opts.memory_limit {
            return Err(Error::TooLarge {
                width: self.elim.width,
                largest_table: self.elim.max_entries,
                needed: need,
                limit: opts.memory_limit,
            });
        }
        Ok(())
    }
}

/// Result of propagation: log Z and, after a calibration, the log marginal of every local variable.
pub(crate) struct Calibration {
    pub log_z: f64,
    /// per local variable: normalised log marginal (empty after a collect-only pass)
    pub marginals: Vec<Vec<f64>>,
    /// per reduced factor (when asked for): normalised log marginal over its scope, in the
    /// factor's table order
    pub factor_marginals: Vec<Vec<f64>>,
}

/// What a propagation computes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The collect pass only: log Z.
    Collect,
    /// Collect and distribute: log Z and every variable's marginal.
    Calibrate,
    /// As `Calibrate`, and the marginal of every factor's scope.
    CalibrateFactors,
}

/// The product of the factors assigned to a clique, as one small table over the union of their
/// scopes (sorted local ids), normalised to max 1, with its log scale.
/// (sorted scope, cardinalities, linear values with max 1, log scale)
type Combined = (Vec<u32>, Vec<usize>, Vec<f64>, f64);

fn combined_factor(node: &Node, p: &Problem) -> Option<Combined> {
    if node.factors.is_empty() {
        return None;
    }
    let mut scope: Vec<u32> = node
        .factors
        .iter()
        .flat_map(|&fi| p.factors[fi].0.iter().copied())
        .collect();
    scope.sort_unstable();
    scope.dedup();
    let cards: Vec<usize> = scope.iter().map(|&v| p.cards[v as usize]).collect();
    let mut scale = 0.0;
    let inputs: Vec<Input<'_>> = node
        .factors
        .iter()
        .map(|&fi| {
            let (fs, vals, s) = &p.factors[fi];
            scale += s;
            let fc: Vec<usize> = fs.iter().map(|&v| p.cards[v as usize]).collect();
            Input {
                vals,
                map: stride_map(&scope, fs, &fc),
            }
        })
        .collect();
    let mut vals = vec![0.0; cards.iter().product()];
    kernel::run(&cards, &inputs, Some(&mut vals), None);
    let ms = kernel::normalize_max(&mut vals);
    Some((scope, cards, vals, scale + ms))
}

fn clique_inputs<'a>(
    node: &Node,
    comb: &'a Option<Combined>,
    msgs: &'a [Option<(Vec<f64>, f64)>],
    nodes: &[Node],
) -> (Vec<Input<'a>>, f64) {
    let mut inputs = Vec::new();
    let mut scale = 0.0;
    // the largest table first: it sets the gather pattern of the first pass
    let mut kids: Vec<usize> = node.children.clone();
    kids.sort_by_key(|&c| std::cmp::Reverse(nodes[c].sep_size()));
    for &c in &kids {
        let (m, s) = msgs[c].as_ref().expect("child message computed");
        let cn = &nodes[c];
        let svars = &cn.vars[..cn.sep_len];
        inputs.push(Input {
            vals: m,
            map: stride_map(&node.vars, svars, &cn.cards[..cn.sep_len]),
        });
        scale += s;
    }
    if let Some((scope, cards, vals, s)) = comb {
        inputs.push(Input {
            vals,
            map: stride_map(&node.vars, scope, cards),
        });
        scale += s;
    }
    (inputs, scale)
}

/// Run the collect pass (and, if `calibrate`, the distribute pass).
pub(crate) fn propagate(p: &Problem, t: &Tree, pass: Pass) -> Result<Calibration> {
    let calibrate = pass != Pass::Collect;
    let nn = t.nodes.len();
    let mut msgs: Vec<Option<(Vec<f64>, f64)>> = (0..nn).map(|_| None).collect();
    let mut log_z = p.log_const;
    // freed message buffers, reused to avoid page faults on fresh allocations
    let mut pool: Vec<Vec<f64>> = Vec::new();
    for &i in &t.post {
        let node = &t.nodes[i];
        let comb = combined_factor(node, p);
        if comb.as_ref().is_some_and(|c| c.3 == f64::NEG_INFINITY) {
            return Err(Error::ZeroProbabilityEvidence);
        }
        let (inputs, scale) = clique_inputs(node, &comb, &msgs, &t.nodes);
        let sep_size = node.sep_size();
        let mut msg = match pool.pop() {
            Some(mut b) => {
                b.clear();
                b.resize(sep_size, 0.0);
                b
            }
            None => vec![0.0; sep_size],
        };
        let amap: Vec<usize> = {
            // separator is the prefix of the layout: stride of prefix dims in the message, 0 for the rest
            let st = crate::factor::index::strides(&node.cards[..node.sep_len]);
            (0..node.vars.len())
                .map(|k| if k < node.sep_len { st[k] } else { 0 })
                .collect()
        };
        kernel::run(&node.cards, &inputs, None, Some((&mut msg, &amap)));
        drop(inputs);
        drop(comb);
        let ms = kernel::normalize_max(&mut msg);
        if ms.is_nan() {
            return Err(Error::InvalidModel(
                "numerical failure (NaN or infinity) during elimination".into(),
            ));
        }
        if ms == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
        // children messages are no longer needed in a collect-only pass
        if !calibrate {
            for &c in &node.children {
                if let Some((b, _)) = msgs[c].take() {
                    pool.push(b);
                }
            }
            pool.sort_by_key(|b| b.capacity());
            if pool.len() > 4 {
                pool.remove(0);
            }
        }
        if node.parent.is_none() {
            // msg has one entry (empty separator): the clique total
            log_z += scale + ms;
            if calibrate {
                msgs[i] = Some((msg, scale + ms));
            }
        } else {
            msgs[i] = Some((msg, scale + ms));
        }
    }
    if !log_z.is_finite() {
        return Err(Error::ZeroProbabilityEvidence);
    }
    if !calibrate {
        return Ok(Calibration {
            log_z,
            marginals: Vec::new(),
            factor_marginals: Vec::new(),
        });
    }
    // Distribute, pre-order. Each clique's belief (factors x messages from its children x the
    // message from its parent) is built once, its home variables' marginals are read off, the
    // messages to its children are derived (belief marginal / upward message), and it is freed.
    let nv = p.cards.len();
    let home = homes(t, nv);
    let mut by_home: Vec<Vec<u32>> = vec![Vec::new(); nn];
    for (v, &h) in home.iter().enumerate() {
        by_home[h].push(v as u32);
    }
    let mut down: Vec<Option<Vec<f64>>> = (0..nn).map(|_| None).collect();
    let mut marginals: Vec<Vec<f64>> = vec![Vec::new(); nv];
    let mut factor_marginals: Vec<Vec<f64>> = Vec::new();
    if pass == Pass::CalibrateFactors {
        factor_marginals = vec![Vec::new(); p.factors.len()];
    }
    let mut tab_buf: Vec<f64> = Vec::new();
    for &i in t.post.iter().rev() {
        let node = &t.nodes[i];
        let comb = combined_factor(node, p);
        let (mut inputs, _) = clique_inputs(node, &comb, &msgs, &t.nodes);
        let dmsg = down[i].take();
        if let Some(d) = dmsg.as_ref() {
            let st = crate::factor::index::strides(&node.cards[..node.sep_len]);
            let map = (0..node.vars.len())
                .map(|k| if k < node.sep_len { st[k] } else { 0 })
                .collect();
            inputs.push(Input { vals: d, map });
        }
        let mut tab = std::mem::take(&mut tab_buf);
        tab.clear();
        tab.resize(node.size(), 0.0);
        kernel::run(&node.cards, &inputs, Some(&mut tab), None);
        drop(inputs);
        if let Some(d) = dmsg {
            pool.push(d);
        }
        let ms = kernel::normalize_max(&mut tab);
        if !ms.is_finite() {
            return Err(Error::InvalidModel(
                "numerical failure during calibration (a clique belief vanished)".into(),
            ));
        }
        for &v in &by_home[i] {
            marginals[v as usize] = scope_marginal(node, &tab, &[v], &p.cards);
        }
        if pass == Pass::CalibrateFactors {
            for &fi in &node.factors {
                factor_marginals[fi] = scope_marginal(node, &tab, &p.factors[fi].0, &p.cards);
            }
        }
        let ident = crate::factor::index::strides(&node.cards);
        for &c in &node.children {
            let cn = &t.nodes[c];
            let mut newsep = pool.pop().unwrap_or_default();
            newsep.clear();
            newsep.resize(cn.sep_size(), 0.0);
            let amap = stride_map(&node.vars, &cn.vars[..cn.sep_len], &cn.cards[..cn.sep_len]);
            kernel::run(
                &node.cards,
                &[Input {
                    vals: &tab,
                    map: ident.clone(),
                }],
                None,
                Some((&mut newsep, &amap)),
            );
            let (up, _) = msgs[c].take().expect("collect message");
            for (nv, &ov) in newsep.iter_mut().zip(&up) {
                *nv = if ov > 0.0 { *nv / ov } else { 0.0 };
            }
            kernel::normalize_max(&mut newsep);
            down[c] = Some(newsep);
            pool.push(up);
        }
        tab_buf = tab;
        if pool.len() > 8 {
            pool.sort_by_key(|b| std::cmp::Reverse(b.capacity()));
            pool.truncate(8);
        }
    }
    Ok(Calibration {
        log_z,
        marginals,
        factor_marginals,
    })
}

/// Normalised log marginal over `scope` (sorted local ids, all in the clique) from a clique
/// belief table, in the table order of a factor over `scope`.
fn scope_marginal(node: &Node, tab: &[f64], scope: &[u32], cards: &[usize]) -> Vec<f64> {
    let sc: Vec<usize> = scope.iter().map(|&v| cards[v as usize]).collect();
    let mut out = vec![0.0; sc.iter().product()];
    let map = stride_map(&node.vars, scope, &sc);
    let ident = crate::factor::index::strides(&node.cards);
    kernel::run(
        &node.cards,
        &[Input {
            vals: tab,
            map: ident,
        }],
        None,
        Some((&mut out, &map)),
    );
    let s: f64 = out.iter().sum();
    out.iter().map(|&x| num::ln(x / s)).collect()
}

/// For each local variable, the smallest clique containing it.
pub(crate) fn homes(t: &Tree, nvars: usize) -> Vec<usize> {
    let mut best = vec![(usize::MAX, usize::MAX); nvars];
    for (i, n) in t.nodes.iter().enumerate() {
        let s = n.size();
        for &v in &n.vars {
            if s < best[v as usize].0 {
                best[v as usize] = (s, i);
            }
        }
    }
    best.into_iter().map(|(_, i)| i).collect()
}

/// Max-product on the tree: the collect pass with maxima instead of sums (every upward message
/// kept), then a downward decode, each clique choosing the best states of its own variables
/// given its separator's (ties to the first in table order). Returns the state of every local
/// variable and ln of the largest unnormalised product (with `p.log_const`).
pub(crate) fn max_product(p: &Problem, t: &Tree) -> Result<(Vec<usize>, f64)> {
    let nn = t.nodes.len();
    let mut msgs: Vec<Option<(Vec<f64>, f64)>> = (0..nn).map(|_| None).collect();
    let mut log_max = p.log_const;
    for &i in &t.post {
        let node = &t.nodes[i];
        let comb = combined_factor(node, p);
        if comb.as_ref().is_some_and(|c| c.3 == f64::NEG_INFINITY) {
            return Err(Error::ZeroProbabilityEvidence);
        }
        let (inputs, scale) = clique_inputs(node, &comb, &msgs, &t.nodes);
        let mut msg = vec![0.0; node.sep_size()];
        let st = crate::factor::index::strides(&node.cards[..node.sep_len]);
        let amap: Vec<usize> = (0..node.vars.len())
            .map(|k| if k < node.sep_len { st[k] } else { 0 })
            .collect();
        kernel::run_fold(
            &node.cards,
            &inputs,
            None,
            Some((&mut msg, &amap)),
            kernel::Fold::Max,
        );
        drop(inputs);
        let ms = kernel::normalize_max(&mut msg);
        if ms.is_nan() {
            return Err(Error::InvalidModel(
                "numerical failure (NaN or infinity) during elimination".into(),
            ));
        }
        if ms == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
        if node.parent.is_none() {
            log_max += scale + ms;
        }
        msgs[i] = Some((msg, scale + ms));
    }
    if !log_max.is_finite() {
        return Err(Error::ZeroProbabilityEvidence);
    }
    // decode, pre-order: the separator's states are known from the parent
    let nv = p.cards.len();
    let mut state = vec![usize::MAX; nv];
    for &i in t.post.iter().rev() {
        let node = &t.nodes[i];
        let comb = combined_factor(node, p);
        let (inputs, _) = clique_inputs(node, &comb, &msgs, &t.nodes);
        let sep_vals: Vec<usize> = node.vars[..node.sep_len]
            .iter()
            .map(|&v| state[v as usize])
            .collect();
        debug_assert!(
            sep_vals.iter().all(|&s| s != usize::MAX),
            "separator decoded"
        );
        let rest = &node.cards[node.sep_len..];
        let count: usize = rest.iter().product();
        // the clique entries that agree with the separator, as one table over the rest (the
        // separator leads the layout): the kernel over the rest, each input shifted to the
        // separator's states
        let sl = node.sep_len;
        let sub: Vec<Input<'_>> = inputs
            .iter()
            .map(|inp| {
                let base: usize = sep_vals.iter().zip(&inp.map).map(|(&s, &m)| s * m).sum();
                Input {
                    vals: &inp.vals[base..],
                    map: inp.map[sl..].to_vec(),
                }
            })
            .collect();
        let mut tab = vec![0.0; count];
        kernel::run(rest, &sub, Some(&mut tab), None);
        let mut best = (f64::NEG_INFINITY, 0usize);
        for (r, &val) in tab.iter().enumerate() {
            if val > best.0 {
                best = (val, r);
            }
        }
        let mut r = best.1;
        for k in (0..rest.len()).rev() {
            state[node.vars[node.sep_len + k] as usize] = r % rest[k];
            r /= rest[k];
        }
    }
    Ok((state, log_max))
}
