//! Discrete Bayesian networks with tabular CPDs.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::model::markov::FactorGraph;
use crate::num;
use crate::var::{validate_variables, Evidence, VarId, Variable};

/// A tabular conditional probability distribution `P(child | parents)`.
///
/// `probs` is laid out with the parents in the order of `parents` (first parent slowest) and the
/// child fastest: entry `((p0 * c1 + p1) ... ) * c_child + x`. The probabilities are kept exactly
/// as given (so that writing a file back is lossless); log values are derived when the network is
/// lowered to factors.
#[derive(Debug, Clone, PartialEq)]
pub struct Cpd {
    /// The child variable.
    pub child: VarId,
    /// Parents, in table order.
    pub parents: Vec<VarId>,
    /// Probabilities (see the layout above).
    pub probs: Vec<f64>,
}

impl Cpd {
    /// `ln P(child = x | parents = u)` where the states come from a full model assignment.
    pub fn log_prob(&self, vars: &[Variable], assignment: &[usize]) -> f64 {
        let mut idx = 0;
        for p in &self.parents {
            idx = idx * vars[p.index()].card() + assignment[p.index()];
        }
        idx = idx * vars[self.child.index()].card() + assignment[self.child.index()];
        num::ln(self.probs[idx])
    }

    /// The CPD as a log-space factor over `parents ∪ {child}`.
    pub fn to_factor(&self, vars: &[Variable]) -> TableFactor {
        let mut scope = self.parents.clone();
        scope.push(self.child);
        let cards = scope.iter().map(|v| vars[v.index()].card()).collect();
        TableFactor::new(scope, cards, num::ln_all(&self.probs)).expect("validated CPD")
    }
}

/// A discrete Bayesian network: variables, one [`Cpd`] per variable, and an acyclic graph.
///
/// ```
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
/// let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
/// b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
/// b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// assert!((bn.log_prob(&[1, 1]) - (0.2f64 * 0.8).ln()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct BayesNet {
    vars: Vec<Variable>,
    cpds: Vec<Cpd>,
    topo: Vec<VarId>,
    name_index: HashMap<String, VarId>,
    max_sum_error: f64,
}

impl BayesNet {
    /// The variables, indexed by [`VarId`].
    pub fn vars(&self) -> &[Variable] {
        &self.vars
    }

    /// One variable.
    pub fn var(&self, id: VarId) -> &Variable {
        &self.vars[id.index()]
    }

    /// Number of variables.
    pub fn num_vars(&self) -> usize {
        self.vars.len()
    }

    /// Look a variable up by name.
    pub fn var_id(&self, name: &str) -> Result<VarId> {
        self.name_index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// The CPD of `child`.
    pub fn cpd(&self, child: VarId) -> &Cpd {
        &self.cpds[child.index()]
    }

    /// All CPDs, indexed by child.
    pub fn cpds(&self) -> &[Cpd] {
        &self.cpds
    }

    /// Parents of `v` in table order.
    pub fn parents(&self, v: VarId) -> &[VarId] {
        &self.cpds[v.index()].parents
    }

    /// Number of arcs.
    pub fn num_edges(&self) -> usize {
        self.cpds.iter().map(|c| c.parents.len()).sum()
    }

    /// Number of free parameters: sum over variables of `(card - 1) * prod(parent cards)`.
    pub fn num_free_parameters(&self) -> usize {
        self.cpds
            .iter()
            .map(|c| {
                (self.vars[c.child.index()].card() - 1) * c.probs.len()
                    / self.vars[c.child.index()].card()
            })
            .sum()
    }

    /// A topological order (parents before children).
    pub fn topological_order(&self) -> &[VarId] {
        &self.topo
    }

    /// Largest |column sum - 1| found over all CPTs when the network was built (before any
    /// renormalisation). Files in the bnlearn repository reach 3e-7.
    pub fn max_normalization_error(&self) -> f64 {
        self.max_sum_error
    }

    /// `ln P(x)` of a full assignment (one state index per variable).
    pub fn log_prob(&self, assignment: &[usize]) -> f64 {
        self.cpds
            .iter()
            .map(|c| c.log_prob(&self.vars, assignment))
            .sum()
    }

    /// Parse `"VAR=STATE,..."` evidence against this network.
    pub fn evidence(&self, spec: &str) -> Result<Evidence> {
        Evidence::parse_spec(&self.vars, spec)
    }

    /// The DAG as a petgraph graph (node weight = variable id, edges parent -> child).
    pub fn graph(&self) -> DiGraph<VarId, ()> {
        let mut g = DiGraph::with_capacity(self.vars.len(), self.num_edges());
        for i in 0..self.vars.len() {
            g.add_node(VarId(i as u32));
        }
        for c in &self.cpds {
            for p in &c.parents {
                g.add_edge(
                    NodeIndex::new(p.index()),
                    NodeIndex::new(c.child.index()),
                    (),
                );
            }
        }
        g
    }

    /// Lower to a factor graph: one log-space factor per CPD. Its partition function is 1, and
    /// with evidence it is `P(evidence)`.
    pub fn to_factor_graph(&self) -> FactorGraph {
        let factors = self.cpds.iter().map(|c| c.to_factor(&self.vars)).collect();
        FactorGraph::new(self.vars.clone(), factors).expect("validated network")
    }

    /// Which variables matter for `P(evidence)`: the observed variables, every variable whose CPT
    /// is not normalised to within [`num::tol::BARREN_SUM`], and all their ancestors. Every other
    /// variable is barren: summing it out gives exactly 1, so dropping it changes nothing. (A CPT
    /// read "as written" from a file whose columns sum to 1 only within 3e-7 is *not* barren:
    /// dropping it would shift log P(e) by up to that much, and make `P(e)` disagree with the
    /// normaliser of the posterior marginals.)
    pub fn evidence_ancestors(&self, evidence: &Evidence) -> Vec<bool> {
        let mut keep = vec![false; self.vars.len()];
        let mut stack: Vec<VarId> = evidence.iter().map(|(v, _)| v).collect();
        for c in &self.cpds {
            let k = self.vars[c.child.index()].card();
            if c.probs
                .chunks(k)
                .any(|col| (col.iter().sum::<f64>() - 1.0).abs() > num::tol::BARREN_SUM)
            {
                stack.push(c.child);
            }
        }
        while let Some(v) = stack.pop() {
            if keep[v.index()] {
                continue;
            }
            keep[v.index()] = true;
            stack.extend(self.cpds[v.index()].parents.iter().copied());
        }
        keep
    }

    /// The log-space factors of the CPDs of the variables flagged in `keep`.
    pub fn factors_of(&self, keep: &[bool]) -> Vec<TableFactor> {
        self.cpds
            .iter()
            .filter(|c| keep[c.child.index()])
            .map(|c| c.to_factor(&self.vars))
            .collect()
    }
}

/// Incremental construction of a [`BayesNet`], validating shapes, normalisation and acyclicity.
#[derive(Debug, Clone)]
pub struct BayesNetBuilder {
    vars: Vec<Variable>,
    cpds: Vec<Option<Cpd>>,
    names: HashMap<String, VarId>,
    tolerance: f64,
    renormalize: bool,
}

impl Default for BayesNetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BayesNetBuilder {
    /// An empty builder with the default normalisation tolerance ([`num::tol::CPT_SUM`]) and no
    /// renormalisation.
    pub fn new() -> Self {
        BayesNetBuilder {
            vars: Vec::new(),
            cpds: Vec::new(),
            names: HashMap::new(),
            tolerance: num::tol::CPT_SUM,
            renormalize: false,
        }
    }

    /// Accept CPT columns whose sum is within `tol` of 1 (default [`num::tol::CPT_SUM`]).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// Divide every CPT column by its sum (in float64) when building. Columns must still sum to a
    /// positive number; the tolerance check is then skipped.
    pub fn renormalize(mut self, yes: bool) -> Self {
        self.renormalize = yes;
        self
    }

    /// Add a variable with named states; returns its id.
    pub fn add_variable(
        &mut self,
        name: impl Into<String>,
        states: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<VarId> {
        let v = Variable::new(name, states);
        let id = crate::var::push_variable(&mut self.vars, &mut self.names, v)?;
        self.cpds.push(None);
        Ok(id)
    }

    /// Id of a variable added before.
    pub fn var_id(&self, name: &str) -> Result<VarId> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// The variables added so far.
    pub fn vars(&self) -> &[Variable] {
        &self.vars
    }

    /// Set `P(child | parents)`; `probs` has the parents in the given order (first slowest) and
    /// the child fastest. Shape and values are checked here, normalisation in [`build`](Self::build).
    pub fn set_cpd(&mut self, child: VarId, parents: &[VarId], probs: Vec<f64>) -> Result<()> {
        let cv = self
            .vars
            .get(child.index())
            .ok_or_else(|| Error::UnknownVariable(format!("#{}", child.0)))?;
        let mut n = cv.card();
        for p in parents {
            if *p == child {
                return Err(Error::Cycle(vec![cv.name.clone(), cv.name.clone()]));
            }
            let pv = self
                .vars
                .get(p.index())
                .ok_or_else(|| Error::UnknownVariable(format!("#{}", p.0)))?;
            n = n
                .checked_mul(pv.card())
                .ok_or_else(|| Error::InvalidModel(format!("CPT of '{}' is too large", cv.name)))?;
        }
        let mut sorted = parents.to_vec();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidModel(format!(
                "CPT of '{}' lists a parent twice",
                cv.name
            )));
        }
        if probs.len() != n {
            return Err(Error::InvalidModel(format!(
                "CPT of '{}' needs {} entries ({} states x parent configurations), got {}",
                cv.name,
                n,
                cv.card(),
                probs.len()
            )));
        }
        if let Some(v) = probs.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(Error::InvalidNumber {
                what: format!("CPT of '{}'", cv.name),
                value: *v,
            });
        }
        self.cpds[child.index()] = Some(Cpd {
            child,
            parents: parents.to_vec(),
            probs,
        });
        Ok(())
    }

    /// [`set_cpd`](Self::set_cpd) with variables named.
    pub fn set_cpd_by_name(
        &mut self,
        child: &str,
        parents: &[&str],
        probs: Vec<f64>,
    ) -> Result<()> {
        let c = self.var_id(child)?;
        let ps = parents
            .iter()
            .map(|p| self.var_id(p))
            .collect::<Result<Vec<_>>>()?;
        self.set_cpd(c, &ps, probs)
    }

    /// Validate everything and build the network.
    pub fn build(self) -> Result<BayesNet> {
        validate_variables(&self.vars)?;
        let mut cpds = Vec::with_capacity(self.vars.len());
        let mut max_err = 0.0f64;
        for (i, c) in self.cpds.into_iter().enumerate() {
            let mut c = c.ok_or_else(|| {
                Error::InvalidModel(format!("variable '{}' has no CPT", self.vars[i].name))
            })?;
            let k = self.vars[i].card();
            for (cfg, col) in c.probs.chunks_mut(k).enumerate() {
                let s: f64 = col.iter().sum();
                max_err = max_err.max((s - 1.0).abs());
                if self.renormalize {
                    if s.is_nan() || s <= 0.0 {
                        return Err(Error::NotNormalized {
                            var: self.vars[i].name.clone(),
                            config: cfg,
                            sum: s,
                            tol: self.tolerance,
                        });
                    }
                    if s != 1.0 {
                        col.iter_mut().for_each(|p| *p /= s);
                    }
                } else if (s - 1.0).abs() > self.tolerance {
                    return Err(Error::NotNormalized {
                        var: self.vars[i].name.clone(),
                        config: cfg,
                        sum: s,
                        tol: self.tolerance,
                    });
                }
            }
            cpds.push(c);
        }
        // acyclicity via petgraph
        let mut g: DiGraph<(), ()> = DiGraph::with_capacity(self.vars.len(), 0);
        for _ in 0..self.vars.len() {
            g.add_node(());
        }
        for c in &cpds {
            for p in &c.parents {
                g.add_edge(
                    NodeIndex::new(p.index()),
                    NodeIndex::new(c.child.index()),
                    (),
                );
            }
        }
        let topo = match petgraph::algo::toposort(&g, None) {
            Ok(order) => order.into_iter().map(|n| VarId(n.index() as u32)).collect(),
            Err(cyc) => {
                let cycle = find_cycle(&cpds, cyc.node_id().index());
                return Err(Error::Cycle(
                    cycle.iter().map(|v| self.vars[*v].name.clone()).collect(),
                ));
            }
        };
        let name_index = self.names;
        Ok(BayesNet {
            vars: self.vars,
            cpds,
            topo,
            name_index,
            max_sum_error: max_err,
        })
    }
}

/// Find a directed cycle through the parent links, starting the search at `start` (known to be on
/// or to lead to a cycle). Returns the variable indices along the cycle, first repeated at the end.
fn find_cycle(cpds: &[Cpd], start: usize) -> Vec<usize> {
    // iterative DFS over parent edges (reverse direction), then reverse the found cycle
    let n = cpds.len();
    let mut color = vec![0u8; n];
    let mut parent_of = vec![usize::MAX; n];
    for root in std::iter::once(start).chain(0..n) {
        if color[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        color[root] = 1;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if *k < cpds[v].parents.len() {
                let p = cpds[v].parents[*k].index();
                *k += 1;
                if color[p] == 1 {
                    // cycle: p -> ... -> v -> p in the parent direction
                    let mut cyc = vec![p];
                    let mut x = v;
                    while x != p {
                        cyc.push(x);
                        x = parent_of[x];
                    }
                    cyc.push(p);
                    return cyc; // parent edges reversed = child -> parent; the list is a child->parent walk
                } else if color[p] == 0 {
                    color[p] = 1;
                    parent_of[p] = v;
                    stack.push((p, 0));
                }
            } else {
                color[v] = 2;
                stack.pop();
            }
        }
    }
    vec![start]
}
