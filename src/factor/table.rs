//! Dense log-space table factors.

use super::index::{for_each_joint, stride_map, strides, table_len, unflatten};
use crate::error::{Error, Result};
use crate::num;
use crate::var::{Evidence, VarId};

/// A dense factor over discrete variables, storing `ln phi(x)` for every joint state `x`.
///
/// The scope is kept sorted by [`VarId`] (strictly ascending) and the table follows the crate's one
/// stride convention ([`crate::factor::index`]): the last scope variable changes fastest.
///
/// ```
/// use pgmkit::{TableFactor, VarId};
/// let a = TableFactor::from_potentials(vec![VarId(0)], vec![2], vec![1.0, 3.0]).unwrap();
/// let b = TableFactor::from_potentials(vec![VarId(1), VarId(0)], vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// let ab = a.product(&b);
/// assert_eq!(ab.scope(), &[VarId(0), VarId(1)]);
/// // sum over everything: 1*(1+3) + 3*(2+4) = 22
/// assert!((ab.log_sum() - 22f64.ln()).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TableFactor {
    scope: Vec<VarId>,
    cards: Vec<usize>,
    log_values: Vec<f64>,
}

impl TableFactor {
    /// A factor from log values listed in the order of `scope` (any order of distinct variables,
    /// last variable fastest). The scope is sorted and the table permuted to match.
    pub fn new(scope: Vec<VarId>, cards: Vec<usize>, log_values: Vec<f64>) -> Result<Self> {
        if scope.len() != cards.len() {
            return Err(Error::InvalidModel(format!(
                "factor scope has {} variables but {} cardinalities",
                scope.len(),
                cards.len()
            )));
        }
        let len = table_len(&cards)
            .ok_or_else(|| Error::InvalidModel("factor table size overflows".into()))?;
        if len != log_values.len() {
            return Err(Error::InvalidModel(format!(
                "factor over {} variables with cardinalities {:?} needs {} entries, got {}",
                scope.len(),
                cards,
                len,
                log_values.len()
            )));
        }
        if let Some(v) = log_values
            .iter()
            .find(|v| v.is_nan() || **v == f64::INFINITY)
        {
            return Err(Error::InvalidNumber {
                what: "factor log-potential".into(),
                value: *v,
            });
        }
        let mut order: Vec<usize> = (0..scope.len()).collect();
        order.sort_by_key(|&i| scope[i]);
        for w in order.windows(2) {
            if scope[w[0]] == scope[w[1]] {
                return Err(Error::InvalidModel(format!(
                    "variable #{} appears twice in a factor scope",
                    scope[w[0]].0
                )));
            }
        }
        if order.iter().enumerate().all(|(i, &o)| i == o) {
            return Ok(TableFactor {
                scope,
                cards,
                log_values,
            });
        }
        let new_scope: Vec<VarId> = order.iter().map(|&i| scope[i]).collect();
        let new_cards: Vec<usize> = order.iter().map(|&i| cards[i]).collect();
        // stride of each new-position variable in the old table
        let old_strides = strides(&cards);
        let map: Vec<usize> = order.iter().map(|&i| old_strides[i]).collect();
        let mut out = vec![0.0; len];
        for_each_joint(&new_cards, [&map], |flat, [old]| {
            out[flat] = log_values[old]
        });
        Ok(TableFactor {
            scope: new_scope,
            cards: new_cards,
            log_values: out,
        })
    }

    /// A factor from non-negative potentials (not logs), same layout rules as [`TableFactor::new`].
    pub fn from_potentials(scope: Vec<VarId>, cards: Vec<usize>, values: Vec<f64>) -> Result<Self> {
        if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(Error::InvalidNumber {
                what: "factor potential".into(),
                value: *v,
            });
        }
        Self::new(scope, cards, num::ln_all(&values))
    }

    /// The factor that is 1 everywhere (log 0) over a scope given sorted.
    pub fn unit(scope: Vec<VarId>, cards: Vec<usize>) -> Self {
        let len = table_len(&cards).expect("table size overflow");
        TableFactor {
            scope,
            cards,
            log_values: vec![0.0; len],
        }
    }

    /// A constant (scope-free) factor with log value `log_value`.
    pub fn scalar(log_value: f64) -> Self {
        TableFactor {
            scope: vec![],
            cards: vec![],
            log_values: vec![log_value],
        }
    }

    /// Sorted scope.
    pub fn scope(&self) -> &[VarId] {
        &self.scope
    }

    /// Cardinalities, in scope order.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// Log values in the crate's stride order.
    pub fn log_values(&self) -> &[f64] {
        &self.log_values
    }

    /// Number of table entries.
    pub fn len(&self) -> usize {
        self.log_values.len()
    }

    /// True for a table with no entries (some variable has cardinality 0; never built by pgmkit).
    pub fn is_empty(&self) -> bool {
        self.log_values.is_empty()
    }

    /// Log value at the states of the scope variables, taken from a full model assignment.
    pub fn log_value(&self, assignment: &[usize]) -> f64 {
        let mut idx = 0;
        for (v, c) in self.scope.iter().zip(&self.cards) {
            idx = idx * c + assignment[v.index()];
        }
        self.log_values[idx]
    }

    /// Position of `var` in the scope.
    pub fn position(&self, var: VarId) -> Option<usize> {
        self.scope.binary_search(&var).ok()
    }

    /// Product (sum of logs) of two factors; the scope is the union.
    pub fn product(&self, other: &TableFactor) -> TableFactor {
        let mut scope = Vec::with_capacity(self.scope.len() + other.scope.len());
        let mut cards = Vec::with_capacity(scope.capacity());
        let (mut i, mut j) = (0, 0);
        while i < self.scope.len() || j < other.scope.len() {
            let take_a =
                j >= other.scope.len() || (i < self.scope.len() && self.scope[i] <= other.scope[j]);
            if take_a {
                if j < other.scope.len() && self.scope[i] == other.scope[j] {
                    j += 1;
                }
                scope.push(self.scope[i]);
                cards.push(self.cards[i]);
                i += 1;
            } else {
                scope.push(other.scope[j]);
                cards.push(other.cards[j]);
                j += 1;
            }
        }
        let ma = stride_map(&scope, &self.scope, &self.cards);
        let mb = stride_map(&scope, &other.scope, &other.cards);
        let len = table_len(&cards).expect("table size overflow");
        let mut out = Vec::with_capacity(len);
        let (a, b) = (&self.log_values, &other.log_values);
        for_each_joint(&cards, [&ma, &mb], |_, [ia, ib]| out.push(a[ia] + b[ib]));
        TableFactor {
            scope,
            cards,
            log_values: out,
        }
    }

    fn reduce_with(&self, vars: &[VarId], combine_max: bool) -> TableFactor {
        let keep: Vec<usize> = (0..self.scope.len())
            .filter(|&i| !vars.contains(&self.scope[i]))
            .collect();
        let scope: Vec<VarId> = keep.iter().map(|&i| self.scope[i]).collect();
        let cards: Vec<usize> = keep.iter().map(|&i| self.cards[i]).collect();
        let map = stride_map(&self.scope, &scope, &cards);
        let out_len = table_len(&cards).expect("table size overflow");
        if combine_max {
            let mut out = vec![f64::NEG_INFINITY; out_len];
            for_each_joint(&self.cards, [&map], |flat, [o]| {
                out[o] = out[o].max(self.log_values[flat])
            });
            TableFactor {
                scope,
                cards,
                log_values: out,
            }
        } else {
            // two passes: max, then sum of shifted exponentials
            let mut mx = vec![f64::NEG_INFINITY; out_len];
            for_each_joint(&self.cards, [&map], |flat, [o]| {
                mx[o] = mx[o].max(self.log_values[flat])
            });
            let mut acc = vec![0.0; out_len];
            for_each_joint(&self.cards, [&map], |flat, [o]| {
                if mx[o] > f64::NEG_INFINITY {
                    acc[o] += num::exp(self.log_values[flat] - mx[o]);
                }
            });
            let out = mx
                .iter()
                .zip(&acc)
                .map(|(&m, &s)| {
                    if m == f64::NEG_INFINITY {
                        m
                    } else {
                        m + num::ln(s)
                    }
                })
                .collect();
            TableFactor {
                scope,
                cards,
                log_values: out,
            }
        }
    }

    /// Sum out `vars` (log-sum-exp); variables not in the scope are ignored.
    pub fn marginalize(&self, vars: &[VarId]) -> TableFactor {
        self.reduce_with(vars, false)
    }

    /// Max out `vars`; variables not in the scope are ignored.
    pub fn max_marginalize(&self, vars: &[VarId]) -> TableFactor {
        self.reduce_with(vars, true)
    }

    /// Keep only the entries consistent with the evidence and drop the observed variables from the scope.
    pub fn reduce(&self, evidence: &Evidence) -> TableFactor {
        let observed: Vec<(usize, usize)> = self
            .scope
            .iter()
            .enumerate()
            .filter_map(|(i, v)| evidence.get(*v).map(|s| (i, s)))
            .collect();
        if observed.is_empty() {
            return self.clone();
        }
        let st = strides(&self.cards);
        let offset: usize = observed.iter().map(|&(i, s)| st[i] * s).sum();
        let keep: Vec<usize> = (0..self.scope.len())
            .filter(|i| !observed.iter().any(|&(j, _)| j == *i))
            .collect();
        let scope: Vec<VarId> = keep.iter().map(|&i| self.scope[i]).collect();
        let cards: Vec<usize> = keep.iter().map(|&i| self.cards[i]).collect();
        let map: Vec<usize> = keep.iter().map(|&i| st[i]).collect();
        let len = table_len(&cards).expect("table size overflow");
        let mut out = Vec::with_capacity(len);
        for_each_joint(&cards, [&map], |_, [src]| {
            out.push(self.log_values[offset + src])
        });
        TableFactor {
            scope,
            cards,
            log_values: out,
        }
    }

    /// Log of the sum of all entries (log-sum-exp of the table).
    pub fn log_sum(&self) -> f64 {
        num::log_sum_exp(&self.log_values)
    }

    /// The factor divided by its total, and the log of that total. Errors if the factor is all zero.
    pub fn normalize(&self) -> Result<(TableFactor, f64)> {
        let z = self.log_sum();
        if z == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
        let mut f = self.clone();
        f.log_values.iter_mut().for_each(|x| *x -= z);
        Ok((f, z))
    }

    /// Potentials `exp(log value)`, in table order.
    pub fn potentials(&self) -> Vec<f64> {
        num::exp_all(&self.log_values)
    }

    /// States of the scope variables at a flat index.
    pub fn states_at(&self, flat: usize) -> Vec<usize> {
        let mut s = vec![0; self.scope.len()];
        unflatten(&self.cards, flat, &mut s);
        s
    }

    /// Rename the scope variables through `f` (which must be strictly increasing on this scope or
    /// the table is re-sorted).
    pub fn map_vars(&self, f: impl Fn(VarId) -> VarId) -> Result<TableFactor> {
        TableFactor::new(
            self.scope.iter().map(|&v| f(v)).collect(),
            self.cards.clone(),
            self.log_values.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_scope() {
        // scope (1, 0): entries phi(v1, v0) with v0 fastest
        let f = TableFactor::from_potentials(
            vec![VarId(1), VarId(0)],
            vec![2, 3],
            vec![1., 2., 3., 4., 5., 6.],
        )
        .unwrap();
        assert_eq!(f.scope(), &[VarId(0), VarId(1)]);
        assert_eq!(f.cards(), &[3, 2]);
        // phi(v0=2, v1=1) = 6
        assert!((f.log_value(&[2, 1]) - 6f64.ln()).abs() < 1e-15);
        assert!((f.log_value(&[1, 0]) - 2f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn marginalize_and_reduce() {
        let f = TableFactor::from_potentials(
            vec![VarId(0), VarId(1)],
            vec![2, 2],
            vec![1., 2., 3., 4.],
        )
        .unwrap();
        let m = f.marginalize(&[VarId(1)]);
        assert!((m.log_values()[0] - 3f64.ln()).abs() < 1e-15);
        assert!((m.log_values()[1] - 7f64.ln()).abs() < 1e-15);
        let mut ev = Evidence::new(2);
        ev.values_mut_for_test(1, 1);
        let r = f.reduce(&ev);
        assert_eq!(r.scope(), &[VarId(0)]);
        assert!((r.log_values()[1] - 4f64.ln()).abs() < 1e-15);
        let mx = f.max_marginalize(&[VarId(0)]);
        assert!((mx.log_values()[1] - 4f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(TableFactor::new(vec![VarId(0)], vec![2], vec![0.0]).is_err());
        assert!(TableFactor::new(vec![VarId(0), VarId(0)], vec![2, 2], vec![0.0; 4]).is_err());
        assert!(TableFactor::from_potentials(vec![VarId(0)], vec![2], vec![-1.0, 1.0]).is_err());
        assert!(TableFactor::new(vec![VarId(0)], vec![2], vec![f64::NAN, 0.0]).is_err());
    }
}
