//! Markov random fields / factor graphs over discrete variables.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::var::{validate_variables, Evidence, VarId, Variable};

/// An undirected model: discrete variables and non-negative factors,
/// `p(x) = (1/Z) prod_f phi_f(x_f)`, all factors stored in log space.
///
/// ```
/// use pgmkit::FactorGraphBuilder;
/// let mut b = FactorGraphBuilder::new();
/// let a = b.add_variable("a", ["off", "on"]).unwrap();
/// let c = b.add_variable("c", ["off", "on"]).unwrap();
/// b.add_factor(&[a, c], vec![2.0, 1.0, 1.0, 2.0]).unwrap();
/// let fg = b.build().unwrap();
/// assert!((fg.log_potential(&[1, 1]) - 2f64.ln()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone)]
pub struct FactorGraph {
    vars: Vec<Variable>,
    factors: Vec<TableFactor>,
    name_index: HashMap<String, VarId>,
}

impl FactorGraph {
    /// Build directly from variables and factors (validated).
    pub fn new(vars: Vec<Variable>, factors: Vec<TableFactor>) -> Result<Self> {
        validate_variables(&vars)?;
        for (k, f) in factors.iter().enumerate() {
            for (v, &c) in f.scope().iter().zip(f.cards()) {
                let var = vars.get(v.index()).ok_or_else(|| {
                    Error::InvalidModel(format!(
                        "factor {k} uses variable #{} which does not exist",
                        v.0
                    ))
                })?;
                if var.card() != c {
                    return Err(Error::InvalidModel(format!(
                        "factor {k} gives variable '{}' cardinality {c} but it has {} states",
                        var.name,
                        var.card()
                    )));
                }
            }
        }
        let name_index = vars
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.clone(), VarId(i as u32)))
            .collect();
        Ok(FactorGraph {
            vars,
            factors,
            name_index,
        })
    }

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

    /// Cardinalities of all variables.
    pub fn cards(&self) -> Vec<usize> {
        self.vars.iter().map(Variable::card).collect()
    }

    /// The factors.
    pub fn factors(&self) -> &[TableFactor] {
        &self.factors
    }

    /// Look a variable up by name.
    pub fn var_id(&self, name: &str) -> Result<VarId> {
        self.name_index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// Parse `"VAR=STATE,..."` evidence against this model.
    pub fn evidence(&self, spec: &str) -> Result<Evidence> {
        Evidence::parse_spec(&self.vars, spec)
    }

    /// Unnormalised `ln prod_f phi_f(x)` of a full assignment (one state per variable).
    pub fn log_potential(&self, assignment: &[usize]) -> f64 {
        self.factors.iter().map(|f| f.log_value(assignment)).sum()
    }

    /// True if every factor has at most two variables.
    pub fn is_pairwise(&self) -> bool {
        self.factors.iter().all(|f| f.scope().len() <= 2)
    }

    /// Number of table entries over all factors.
    pub fn num_parameters(&self) -> usize {
        self.factors.iter().map(TableFactor::len).sum()
    }

    /// Indices of the factors that mention each variable.
    pub fn var_factors(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.vars.len()];
        for (k, f) in self.factors.iter().enumerate() {
            for v in f.scope() {
                out[v.index()].push(k);
            }
        }
        out
    }
}

/// Incremental construction of a [`FactorGraph`].
#[derive(Debug, Default, Clone)]
pub struct FactorGraphBuilder {
    vars: Vec<Variable>,
    factors: Vec<TableFactor>,
    names: HashMap<String, VarId>,
}

impl FactorGraphBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a variable with named states; returns its id.
    pub fn add_variable(
        &mut self,
        name: impl Into<String>,
        states: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<VarId> {
        self.push_var(Variable::new(name, states))
    }

    /// Add a variable whose states are "0".."card-1".
    pub fn add_variable_card(&mut self, name: impl Into<String>, card: usize) -> Result<VarId> {
        self.push_var(Variable::with_cardinality(name, card))
    }

    fn push_var(&mut self, v: Variable) -> Result<VarId> {
        crate::var::push_variable(&mut self.vars, &mut self.names, v)
    }

    /// Id of a variable added before.
    pub fn var_id(&self, name: &str) -> Result<VarId> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    fn cards_of(&self, scope: &[VarId]) -> Result<Vec<usize>> {
        scope
            .iter()
            .map(|v| {
                self.vars
                    .get(v.index())
                    .map(Variable::card)
                    .ok_or_else(|| Error::UnknownVariable(format!("#{}", v.0)))
            })
            .collect()
    }

    /// Add a factor given as non-negative potentials over `scope` (in the order given, last
    /// variable fastest).
    pub fn add_factor(&mut self, scope: &[VarId], potentials: Vec<f64>) -> Result<usize> {
        let cards = self.cards_of(scope)?;
        let f = TableFactor::from_potentials(scope.to_vec(), cards, potentials)?;
        self.factors.push(f);
        Ok(self.factors.len() - 1)
    }

    /// Add a factor given as log-potentials over `scope` (in the order given, last variable fastest).
    pub fn add_log_factor(&mut self, scope: &[VarId], log_potentials: Vec<f64>) -> Result<usize> {
        let cards = self.cards_of(scope)?;
        let f = TableFactor::new(scope.to_vec(), cards, log_potentials)?;
        self.factors.push(f);
        Ok(self.factors.len() - 1)
    }

    /// Add an already-built factor.
    pub fn push_factor(&mut self, f: TableFactor) -> Result<usize> {
        let cards = self.cards_of(f.scope())?;
        if cards != f.cards() {
            return Err(Error::InvalidModel(
                "factor cardinalities do not match the variables".into(),
            ));
        }
        self.factors.push(f);
        Ok(self.factors.len() - 1)
    }

    /// Unary log-potential on one variable.
    pub fn add_unary_log(&mut self, v: VarId, log_potentials: Vec<f64>) -> Result<usize> {
        self.add_log_factor(&[v], log_potentials)
    }

    /// Pairwise log-potential `theta[a][b]` between `a` and `b` (row = state of `a`).
    pub fn add_pairwise_log(&mut self, a: VarId, b: VarId, theta: &[Vec<f64>]) -> Result<usize> {
        let flat: Vec<f64> = theta.iter().flatten().copied().collect();
        self.add_log_factor(&[a, b], flat)
    }

    /// Finish: validates and returns the model.
    pub fn build(self) -> Result<FactorGraph> {
        FactorGraph::new(self.vars, self.factors)
    }
}

/// Boundary condition of a grid model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// Free (open) boundary: edges only between in-grid neighbours.
    Free,
    /// Periodic boundary (a torus): the last row/column also connects to the first.
    Periodic,
}

/// The nearest-neighbour edges of a `rows x cols` grid as pairs of site indices (`r * cols + c`),
/// horizontal edges first at each site. With a periodic boundary, a dimension of size 1 adds no
/// wrap edge and one of size 2 adds its edge twice (as a torus does).
pub fn grid_edges(rows: usize, cols: usize, boundary: Boundary) -> Vec<(usize, usize)> {
    let mut e = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            if c + 1 < cols {
                e.push((i, i + 1));
            } else if boundary == Boundary::Periodic && cols > 1 {
                e.push((r * cols, i));
            }
            if r + 1 < rows {
                e.push((i, i + cols));
            } else if boundary == Boundary::Periodic && rows > 1 {
                e.push((c, i));
            }
        }
    }
    e
}

/// An Ising grid with spins `s in {-1,+1}` (state 0 = -1, state 1 = +1):
/// `p(s) ∝ exp(sum_<ij> J_ij s_i s_j + sum_i h_i s_i)`.
///
/// `coupling(i, j)` gives `J` for the edge between sites `i < j` or wrap edges (site index
/// `r * cols + c`), `field(i)` gives `h_i`. Variables are named `x{r}_{c}`.
///
/// ```
/// use pgmkit::model::{ising_grid, Boundary};
/// let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
/// assert_eq!(g.num_vars(), 9);
/// assert_eq!(g.factors().len(), 9 + 12);
/// ```
pub fn ising_grid(
    rows: usize,
    cols: usize,
    boundary: Boundary,
    coupling: impl Fn(usize, usize) -> f64,
    field: impl Fn(usize) -> f64,
) -> Result<FactorGraph> {
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidArgument(
            "a grid needs at least one row and one column".into(),
        ));
    }
    let mut b = FactorGraphBuilder::new();
    for r in 0..rows {
        for c in 0..cols {
            b.add_variable(format!("x{r}_{c}"), ["-1", "+1"])?;
        }
    }
    for i in 0..rows * cols {
        let h = field(i);
        if !h.is_finite() {
            return Err(Error::InvalidNumber {
                what: format!("field of site {i}"),
                value: h,
            });
        }
        b.add_unary_log(VarId(i as u32), vec![-h, h])?;
    }
    for (i, j) in grid_edges(rows, cols, boundary) {
        let jv = coupling(i, j);
        if !jv.is_finite() {
            return Err(Error::InvalidNumber {
                what: format!("coupling of edge ({i},{j})"),
                value: jv,
            });
        }
        b.add_log_factor(&[VarId(i as u32), VarId(j as u32)], vec![jv, -jv, -jv, jv])?;
    }
    b.build()
}

/// A `q`-state Potts grid: `p(x) ∝ exp(sum_<ij> J_ij [x_i == x_j])`, with optional per-site
/// log-potentials `field(i, state)`.
pub fn potts_grid(
    rows: usize,
    cols: usize,
    q: usize,
    boundary: Boundary,
    coupling: impl Fn(usize, usize) -> f64,
    field: impl Fn(usize, usize) -> f64,
) -> Result<FactorGraph> {
    if rows == 0 || cols == 0 || q == 0 {
        return Err(Error::InvalidArgument(
            "a Potts grid needs rows, cols and q >= 1".into(),
        ));
    }
    let mut b = FactorGraphBuilder::new();
    for r in 0..rows {
        for c in 0..cols {
            b.add_variable_card(format!("x{r}_{c}"), q)?;
        }
    }
    for i in 0..rows * cols {
        let u: Vec<f64> = (0..q).map(|s| field(i, s)).collect();
        if u.iter().any(|x| *x != 0.0) {
            b.add_unary_log(VarId(i as u32), u)?;
        }
    }
    for (i, j) in grid_edges(rows, cols, boundary) {
        let jv = coupling(i, j);
        let mut t = vec![0.0; q * q];
        for s in 0..q {
            t[s * q + s] = jv;
        }
        b.add_log_factor(&[VarId(i as u32), VarId(j as u32)], t)?;
    }
    b.build()
}
