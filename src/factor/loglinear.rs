//! Log-linear parameters behind a factor graph's tables, for learning undirected models.
//!
//! Every table entry's log potential is a fixed offset (0, or `-inf` for a structural zero) plus
//! a linear combination of parameters: `ln φ_f(x_f) = offset_f(x_f) + Σ_k c_{f,x_f,k} θ_k`. One
//! parameter per table entry ([`LogLinear::per_entry`]) fits any factor graph; tied parameters
//! express the usual families: Ising couplings and fields over spins `s = 2x - 1`
//! ([`LogLinear::ising`]), Potts couplings and per-state fields ([`LogLinear::potts`]), or any
//! feature map given entry by entry ([`LogLinear::new`]).
//!
//! The log-likelihood of complete data is concave in `θ`; its gradient is the data's mean
//! feature vector ([`LogLinear::empirical_features`]) minus the model's
//! ([`LogLinear::expected_features`], from exact factor marginals).
//!
//! ```
//! use pgmkit::factor::loglinear::LogLinear;
//! use pgmkit::model::{ising_grid, Boundary};
//! let g = ising_grid(2, 3, Boundary::Free, |_, _| 0.4, |_| -0.2).unwrap();
//! let ll = LogLinear::ising(&g).unwrap();
//! assert_eq!(ll.num_params(), 6 + 7); // a field per site, a coupling per edge
//! let theta = ll.theta_of_ising(&g).unwrap();
//! assert!(theta.iter().all(|t| (t - 0.4).abs() < 1e-12 || (t + 0.2).abs() < 1e-12));
//! let back = ll.factor_graph(&theta).unwrap();
//! assert_eq!(back.factors()[0].log_values(), g.factors()[0].log_values());
//! ```

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{FactorGraph, FactorGraphBuilder};
use crate::var::{VarId, Variable};

/// One feature term of a table entry: parameter `param` with coefficient `coef`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// Index of the parameter.
    pub param: u32,
    /// Its coefficient in the entry's log potential.
    pub coef: f64,
}

/// One factor's parametrisation: its scope, and per table entry the fixed offset and the terms.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorParams {
    /// The scope (sorted, as the factor graph's tables).
    pub scope: Vec<VarId>,
    /// Fixed log offset of every entry (0, or `-inf` for a structural zero).
    pub offset: Vec<f64>,
    /// The terms of every entry.
    pub terms: Vec<Vec<Term>>,
}

/// A log-linear model: the variables, and the parametrisation of every factor (see the module
/// docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLinear {
    vars: Vec<Variable>,
    factors: Vec<FactorParams>,
    names: Vec<String>,
}

impl LogLinear {
    /// A model from its parts. Errors: a scope with an unknown or repeated variable, a table of
    /// the wrong size, a term naming a parameter beyond `names`, a non-finite coefficient or an
    /// offset other than 0 or `-inf`.
    pub fn new(
        vars: Vec<Variable>,
        factors: Vec<FactorParams>,
        names: Vec<String>,
    ) -> Result<Self> {
        for (k, f) in factors.iter().enumerate() {
            let mut size = 1usize;
            for (j, v) in f.scope.iter().enumerate() {
                let var = vars
                    .get(v.index())
                    .ok_or_else(|| Error::UnknownVariable(format!("#{} (factor {k})", v.0)))?;
                if f.scope[..j].contains(v) {
                    return Err(Error::InvalidModel(format!(
                        "factor {k} lists '{}' twice",
                        var.name
                    )));
                }
                size = size.checked_mul(var.card()).ok_or(Error::Overflow {
                    what: format!("the table size of factor {k}"),
                })?;
            }
            crate::error::check_dim(&format!("offsets of factor {k}"), size, f.offset.len())?;
            crate::error::check_dim(&format!("terms of factor {k}"), size, f.terms.len())?;
            if let Some(o) = f
                .offset
                .iter()
                .find(|o| **o != 0.0 && **o != f64::NEG_INFINITY)
            {
                return Err(Error::InvalidNumber {
                    what: format!("offset of factor {k} (0 or -inf)"),
                    value: *o,
                });
            }
            for t in f.terms.iter().flatten() {
                if t.param as usize >= names.len() {
                    return Err(Error::InvalidArgument(format!(
                        "factor {k} uses parameter {} of {}",
                        t.param,
                        names.len()
                    )));
                }
                if !t.coef.is_finite() {
                    return Err(Error::InvalidNumber {
                        what: format!("a coefficient of factor {k}"),
                        value: t.coef,
                    });
                }
            }
        }
        Ok(LogLinear {
            vars,
            factors,
            names,
        })
    }

    /// One parameter per table entry of `fg` (entries that are zero stay structural zeros and
    /// get no parameter), and the parameters that give back `fg`'s tables. The parametrisation
    /// is over-complete: an L2 penalty makes the fit unique.
    pub fn per_entry(fg: &FactorGraph) -> (LogLinear, Vec<f64>) {
        let mut names = Vec::new();
        let mut theta = Vec::new();
        let factors = fg
            .factors()
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let lv = f.log_values();
                let mut offset = vec![0.0; lv.len()];
                let mut terms = vec![Vec::new(); lv.len()];
                for (e, &l) in lv.iter().enumerate() {
                    if l == f64::NEG_INFINITY {
                        offset[e] = f64::NEG_INFINITY;
                    } else {
                        terms[e].push(Term {
                            param: names.len() as u32,
                            coef: 1.0,
                        });
                        names.push(format!("f{k}[{e}]"));
                        theta.push(l);
                    }
                }
                FactorParams {
                    scope: f.scope().to_vec(),
                    offset,
                    terms,
                }
            })
            .collect();
        (
            LogLinear {
                vars: fg.vars().to_vec(),
                factors,
                names,
            },
            theta,
        )
    }

    /// The Ising parametrisation of a model of binary variables whose factors have one or two
    /// variables: spins `s = 2x - 1`, a field `h` per one-variable factor (`ln φ = h s`) and a
    /// coupling `J` per two-variable factor (`ln φ = J s_a s_b`); parameters in factor order,
    /// named `h(a)` and `J(a,b)`. Errors: a variable that is not binary
    /// ([`Error::InvalidModel`]), a factor over more variables ([`Error::NotPairwise`]).
    pub fn ising(fg: &FactorGraph) -> Result<LogLinear> {
        if let Some(v) = fg.vars().iter().find(|v| v.card() != 2) {
            return Err(Error::InvalidModel(format!(
                "the Ising parametrisation needs binary variables; '{}' has {} states",
                v.name,
                v.card()
            )));
        }
        let spin = |x: usize| 2.0 * x as f64 - 1.0;
        Self::pairwise(
            fg,
            "the Ising parametrisation",
            |v, names| {
                names.push(format!("h({})", v.name));
                let param = names.len() as u32 - 1;
                (0..2)
                    .map(|x| {
                        vec![Term {
                            param,
                            coef: spin(x),
                        }]
                    })
                    .collect()
            },
            |a, b, names| {
                names.push(format!("J({},{})", a.name, b.name));
                let param = names.len() as u32 - 1;
                Ok((0..4)
                    .map(|e| {
                        vec![Term {
                            param,
                            coef: spin(e / 2) * spin(e % 2),
                        }]
                    })
                    .collect())
            },
        )
    }

    /// The Potts parametrisation of a model whose factors have one or two variables: a field
    /// per state but the first of each one-variable factor (`ln φ(x) = h_x`, `h_0 = 0`), and a
    /// coupling per two-variable factor over variables with as many states
    /// (`ln φ(a, b) = J δ(a, b)`); named `h(a=s)` and `J(a,b)`. Errors: a factor over more
    /// variables ([`Error::NotPairwise`]), a pair of variables with different numbers of states
    /// ([`Error::InvalidModel`]).
    pub fn potts(fg: &FactorGraph) -> Result<LogLinear> {
        Self::pairwise(
            fg,
            "the Potts parametrisation",
            |v, names| {
                (0..v.card())
                    .map(|s| {
                        if s == 0 {
                            return Vec::new();
                        }
                        names.push(format!("h({}={})", v.name, v.states[s]));
                        vec![Term {
                            param: names.len() as u32 - 1,
                            coef: 1.0,
                        }]
                    })
                    .collect()
            },
            |a, b, names| {
                if a.card() != b.card() {
                    return Err(Error::InvalidModel(format!(
                        "the Potts parametrisation couples variables with as many states; '{}' \
                         has {} and '{}' {}",
                        a.name,
                        a.card(),
                        b.name,
                        b.card()
                    )));
                }
                names.push(format!("J({},{})", a.name, b.name));
                let param = names.len() as u32 - 1;
                let c = a.card();
                Ok((0..c * c)
                    .map(|e| {
                        if e / c == e % c {
                            vec![Term { param, coef: 1.0 }]
                        } else {
                            Vec::new()
                        }
                    })
                    .collect())
            },
        )
    }

    /// A parametrisation of a model whose factors have at most two variables: `unary` gives the
    /// terms of every entry of a one-variable factor and `pair` those of a two-variable factor,
    /// each pushing the names of the parameters it creates (in factor order). Errors: a factor
    /// over more variables ([`Error::NotPairwise`], naming `method`), and those of `pair`.
    fn pairwise(
        fg: &FactorGraph,
        method: &'static str,
        mut unary: impl FnMut(&Variable, &mut Vec<String>) -> Vec<Vec<Term>>,
        mut pair: impl FnMut(&Variable, &Variable, &mut Vec<String>) -> Result<Vec<Vec<Term>>>,
    ) -> Result<LogLinear> {
        let mut names = Vec::new();
        let mut factors = Vec::with_capacity(fg.factors().len());
        for (k, f) in fg.factors().iter().enumerate() {
            let scope = f.scope().to_vec();
            let var = |v: &VarId| &fg.vars()[v.index()];
            let terms = match scope.len() {
                0 => vec![Vec::new()],
                1 => unary(var(&scope[0]), &mut names),
                2 => pair(var(&scope[0]), var(&scope[1]), &mut names)?,
                arity => {
                    return Err(Error::NotPairwise {
                        method,
                        factor: k,
                        arity,
                    })
                }
            };
            factors.push(FactorParams {
                offset: vec![0.0; terms.len()],
                scope,
                terms,
            });
        }
        Ok(LogLinear {
            vars: fg.vars().to_vec(),
            factors,
            names,
        })
    }

    /// The Ising parameters of `fg` itself (for a model this parametrisation came from): each
    /// field and coupling read off its table by least squares (exact when the table has the
    /// Ising form). Errors: `fg` with other scopes than this model's.
    pub fn theta_of_ising(&self, fg: &FactorGraph) -> Result<Vec<f64>> {
        self.check_scopes(fg)?;
        let mut theta = vec![0.0; self.num_params()];
        for (f, p) in fg.factors().iter().zip(&self.factors) {
            let lv = f.log_values();
            // least squares on the entries: theta = sum_e c_e l_e / sum_e c_e^2 (one parameter)
            let (mut num, mut den) = (0.0, 0.0);
            let mut param = None;
            let mean = lv.iter().sum::<f64>() / lv.len() as f64;
            for (e, ts) in p.terms.iter().enumerate() {
                for t in ts {
                    num += t.coef * (lv[e] - mean);
                    den += t.coef * t.coef;
                    param = Some(t.param as usize);
                }
            }
            if let Some(k) = param {
                theta[k] = num / den;
            }
        }
        Ok(theta)
    }

    fn check_scopes(&self, fg: &FactorGraph) -> Result<()> {
        crate::error::check_dim("factors", self.factors.len(), fg.factors().len())?;
        for (k, (f, p)) in fg.factors().iter().zip(&self.factors).enumerate() {
            if f.scope() != p.scope.as_slice() {
                return Err(Error::InvalidModel(format!(
                    "factor {k} has another scope than the log-linear model's"
                )));
            }
        }
        Ok(())
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.names.len()
    }

    /// Parameter names, by index.
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// The variables.
    pub fn vars(&self) -> &[Variable] {
        &self.vars
    }

    /// The factors' parametrisations.
    pub fn factors(&self) -> &[FactorParams] {
        &self.factors
    }

    /// The log potential of entry `e` of factor `f` under `theta`.
    #[inline]
    pub fn log_potential(&self, f: usize, e: usize, theta: &[f64]) -> f64 {
        let p = &self.factors[f];
        p.offset[e]
            + p.terms[e]
                .iter()
                .map(|t| t.coef * theta[t.param as usize])
                .sum::<f64>()
    }

    /// The factor graph of `theta`. Errors: `theta` of the wrong length, a non-finite value.
    pub fn factor_graph(&self, theta: &[f64]) -> Result<FactorGraph> {
        self.check_theta(theta)?;
        let mut b = FactorGraphBuilder::new();
        for v in &self.vars {
            b.add_variable(v.name.clone(), v.states.iter().cloned())?;
        }
        for (k, p) in self.factors.iter().enumerate() {
            let lv: Vec<f64> = (0..p.offset.len())
                .map(|e| self.log_potential(k, e, theta))
                .collect();
            b.add_log_factor(&p.scope, lv)?;
        }
        b.build()
    }

    /// Check that `theta` has one finite value per parameter.
    pub fn check_theta(&self, theta: &[f64]) -> Result<()> {
        crate::error::check_dim("parameters", self.num_params(), theta.len())?;
        if let Some(t) = theta.iter().find(|t| !t.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "a parameter".into(),
                value: *t,
            });
        }
        Ok(())
    }

    /// Flat table index of every factor's entry in every row of `data` (row-major, `rows x
    /// factors`). Errors: a missing cell ([`Error::InvalidArgument`]: learning needs complete
    /// rows), data over other variables.
    pub fn entries(&self, data: &Dataset) -> Result<Vec<u32>> {
        crate::error::check_dim("data columns", self.vars.len(), data.num_vars())?;
        let nf = self.factors.len();
        let mut out = vec![0u32; data.num_rows() * nf];
        let strides: Vec<Vec<usize>> = self
            .factors
            .iter()
            .map(|p| {
                let cards: Vec<usize> = p
                    .scope
                    .iter()
                    .map(|v| self.vars[v.index()].card())
                    .collect();
                super::index::strides(&cards)
            })
            .collect();
        for (k, p) in self.factors.iter().enumerate() {
            for r in 0..data.num_rows() {
                let mut e = 0;
                for (v, st) in p.scope.iter().zip(&strides[k]) {
                    let x = data.get(r, *v).ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "row {} has no value for '{}': learning an undirected model needs \
                             complete rows",
                            r + 1,
                            self.vars[v.index()].name
                        ))
                    })?;
                    e += x * st;
                }
                out[r * nf + k] = e as u32;
            }
        }
        Ok(out)
    }

    /// The data's mean feature vector: for each parameter, the mean over rows of the sum of its
    /// coefficients at the rows' entries. Errors as [`LogLinear::entries`].
    pub fn empirical_features(&self, data: &Dataset) -> Result<Vec<f64>> {
        let entries = self.entries(data)?;
        let nf = self.factors.len();
        let mut g = vec![0.0; self.num_params()];
        // counts per factor entry first: the sum is then exact in any row order
        for (k, p) in self.factors.iter().enumerate() {
            let mut counts = vec![0u64; p.offset.len()];
            for r in 0..data.num_rows() {
                counts[entries[r * nf + k] as usize] += 1;
            }
            for (e, &c) in counts.iter().enumerate() {
                for t in &p.terms[e] {
                    g[t.param as usize] += t.coef * c as f64;
                }
            }
        }
        let n = data.num_rows().max(1) as f64;
        g.iter_mut().for_each(|x| *x /= n);
        Ok(g)
    }

    /// The model's expected feature vector given the log marginal of every factor's scope (as
    /// [`crate::infer::exact::factor_marginals`] gives them).
    pub fn expected_features(&self, log_marginals: &[Vec<f64>]) -> Vec<f64> {
        let mut g = vec![0.0; self.num_params()];
        for (p, lm) in self.factors.iter().zip(log_marginals) {
            for (e, ts) in p.terms.iter().enumerate() {
                if ts.is_empty() {
                    continue;
                }
                let q = crate::num::exp(lm[e]);
                for t in ts {
                    g[t.param as usize] += t.coef * q;
                }
            }
        }
        g
    }
}
