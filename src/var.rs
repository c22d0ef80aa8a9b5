//! Variables, their states, assignments and evidence.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Dense index of a variable inside one model (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct VarId(pub u32);

impl VarId {
    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<usize> for VarId {
    fn from(i: usize) -> Self {
        VarId(i as u32)
    }
}

/// A discrete variable: a name and the names of its states (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Name, unique within a model.
    pub name: String,
    /// State names, unique within the variable; the cardinality is `states.len()`.
    pub states: Vec<String>,
}

impl Variable {
    /// A variable with the given state names.
    pub fn new(
        name: impl Into<String>,
        states: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Variable {
            name: name.into(),
            states: states.into_iter().map(Into::into).collect(),
        }
    }

    /// A variable whose states are named "0", "1", ... (the UAI and libDAI convention).
    pub fn with_cardinality(name: impl Into<String>, card: usize) -> Self {
        Variable {
            name: name.into(),
            states: (0..card).map(|i| i.to_string()).collect(),
        }
    }

    /// Number of states.
    #[inline]
    pub fn card(&self) -> usize {
        self.states.len()
    }

    /// Index of a state by name.
    pub fn state_index(&self, state: &str) -> Result<usize> {
        self.states
            .iter()
            .position(|s| s == state)
            .ok_or_else(|| Error::UnknownState {
                var: self.name.clone(),
                state: state.to_string(),
                states: self.states.clone(),
            })
    }

    /// Index of a state by name, or by number when no state has that name
    /// (so `X=1` works for variables whose states are "0", "1" as well as for named states).
    pub fn resolve_state(&self, state: &str) -> Result<usize> {
        if let Ok(i) = self.state_index(state) {
            return Ok(i);
        }
        match state.parse::<usize>() {
            Ok(i) if i < self.card() => Ok(i),
            _ => Err(Error::UnknownState {
                var: self.name.clone(),
                state: state.to_string(),
                states: self.states.clone(),
            }),
        }
    }
}

/// Check the variables of a model: unique non-empty names, at least one state each, unique states.
pub(crate) fn validate_variables(vars: &[Variable]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(vars.len());
    for v in vars {
        if v.name.is_empty() {
            return Err(Error::InvalidModel("a variable has an empty name".into()));
        }
        if !seen.insert(v.name.as_str()) {
            return Err(Error::InvalidModel(format!(
                "variable '{}' is defined twice",
                v.name
            )));
        }
        if v.states.is_empty() {
            return Err(Error::InvalidModel(format!(
                "variable '{}' has no states",
                v.name
            )));
        }
        let mut st = std::collections::HashSet::with_capacity(v.states.len());
        for s in &v.states {
            if !st.insert(s.as_str()) {
                return Err(Error::InvalidModel(format!(
                    "variable '{}' lists state '{}' twice",
                    v.name, s
                )));
            }
        }
    }
    Ok(())
}

/// Hard evidence: an observed value per variable, `None` where unobserved. For discrete models
/// (the default, `Evidence<usize>`) the value is a state index; for Gaussian models
/// (`Evidence<f64>`) it is the observed number.
///
/// Build discrete evidence with [`Evidence::new`] and [`Evidence::set`], or parse it from names
/// with [`Evidence::parse_spec`] (`"BP=HIGH,HRBP=HIGH"`); continuous evidence with
/// [`Evidence::continuous`] and [`Evidence::observe`], or from a Gaussian model's names
/// (e.g. [`crate::gaussian::GaussianBn::evidence`]).
///
/// ```
/// use pgmkit::{Evidence, VarId};
/// let mut ev = Evidence::continuous(3);
/// ev.observe(VarId(1), 2.5).unwrap();
/// assert_eq!(ev.get(VarId(1)), Some(2.5));
/// assert!(ev.observe(VarId(1), 3.0).is_err()); // observed already, with another value
/// assert!(ev.observe(VarId(0), f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence<T = usize> {
    values: Vec<Option<T>>,
}

impl<T: Copy + PartialEq> Evidence<T> {
    /// Check that the evidence covers at most `n` variables (those of the model it is for):
    /// [`Error::InvalidArgument`] otherwise.
    pub fn check_len(&self, n: usize) -> Result<()> {
        if self.values.len() > n {
            return Err(Error::InvalidArgument(format!(
                "evidence is for {} variables but the model has {n}",
                self.values.len()
            )));
        }
        Ok(())
    }

    /// Observed value of `var`, if any.
    #[inline]
    pub fn get(&self, var: VarId) -> Option<T> {
        self.values.get(var.index()).copied().flatten()
    }

    /// Number of observed variables.
    pub fn len(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    /// True when nothing is observed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterate over the observed `(variable, value)` pairs, in variable order.
    pub fn iter(&self) -> impl Iterator<Item = (VarId, T)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|s| (VarId(i as u32), s)))
    }

    /// The raw per-variable slice (`None` = unobserved); may be shorter than the model.
    pub fn as_slice(&self) -> &[Option<T>] {
        &self.values
    }
}

impl Evidence<f64> {
    /// No evidence on `n` continuous variables.
    pub fn continuous(n: usize) -> Self {
        Evidence {
            values: vec![None; n],
        }
    }

    /// Observe `var` at `value`. Errors: a variable beyond the evidence's length
    /// ([`Error::UnknownVariable`]), a non-finite value ([`Error::InvalidNumber`]), a variable
    /// observed already at another value ([`Error::ConflictingEvidence`]).
    pub fn observe(&mut self, var: VarId, value: f64) -> Result<()> {
        let slot = self
            .values
            .get_mut(var.index())
            .ok_or_else(|| Error::UnknownVariable(format!("#{}", var.0)))?;
        if !value.is_finite() {
            return Err(Error::InvalidNumber {
                what: format!("evidence for variable #{}", var.0),
                value,
            });
        }
        match *slot {
            Some(v) if v != value => Err(Error::ConflictingEvidence(format!("#{}", var.0))),
            _ => {
                *slot = Some(value);
                Ok(())
            }
        }
    }

    /// Evidence on `n` continuous variables from `(variable, value)` pairs, each checked as
    /// [`Evidence::observe`] does (a variable given twice is [`Error::ConflictingEvidence`]).
    pub fn from_pairs(n: usize, pairs: &[(VarId, f64)]) -> Result<Self> {
        let mut ev = Evidence::continuous(n);
        for &(v, x) in pairs {
            if ev.get(v).is_some() {
                return Err(Error::ConflictingEvidence(format!("#{}", v.0)));
            }
            ev.observe(v, x)?;
        }
        Ok(ev)
    }

    /// Parse `"VAR=VALUE,VAR2=VALUE2"` (real values) against the variable names of a Gaussian
    /// model. Whitespace around items is ignored; an empty (or all-blank) string is no
    /// evidence. Errors: an item that is not `VAR=VALUE` or a value that is not a number
    /// ([`Error::Parse`] with its column), an unknown name ([`Error::UnknownVariable`]), a
    /// non-finite value ([`Error::InvalidNumber`]), a variable given twice
    /// ([`Error::ConflictingEvidence`]).
    pub fn parse_values(names: &[String], spec: &str) -> Result<Self> {
        let mut ev = Evidence::continuous(names.len());
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut col = 1;
        for item in spec.split(',') {
            let trimmed = item.trim();
            if !trimmed.is_empty() {
                let bad = |msg: String| Error::Parse {
                    format: crate::error::Format::EvidenceSpec,
                    line: 1,
                    col,
                    msg,
                };
                let (name, value) = trimmed.split_once('=').ok_or_else(|| {
                    bad(format!(
                        "expected VAR=VALUE (Gaussian models take real values, e.g. X=1.25), \
                         found '{trimmed}'"
                    ))
                })?;
                let (name, value) = (name.trim(), value.trim());
                let v = *index
                    .get(name)
                    .ok_or_else(|| Error::UnknownVariable(name.to_string()))?;
                let x: f64 = value.parse().map_err(|_| {
                    bad(format!(
                        "evidence value '{value}' for '{name}' is not a number"
                    ))
                })?;
                if !x.is_finite() {
                    return Err(Error::InvalidNumber {
                        what: format!("evidence for '{name}'"),
                        value: x,
                    });
                }
                if ev.get(VarId(v as u32)).is_some() {
                    return Err(Error::ConflictingEvidence(name.to_string()));
                }
                ev.observe(VarId(v as u32), x)?;
            }
            col += item.len() + 1;
        }
        Ok(ev)
    }

    /// The observed `(index, value)` pairs, in variable order (the coordinates a
    /// [`crate::gaussian::MvNormal`] conditions on).
    pub fn pairs(&self) -> Vec<(usize, f64)> {
        self.iter().map(|(v, x)| (v.index(), x)).collect()
    }
}

impl Evidence {
    /// No evidence on `n` variables.
    pub fn new(n: usize) -> Self {
        Evidence {
            values: vec![None; n],
        }
    }

    /// Observe `var` in state `state`. Errors if the variable was already observed in another state.
    pub fn set(&mut self, vars: &[Variable], var: VarId, state: usize) -> Result<()> {
        let v = vars
            .get(var.index())
            .ok_or_else(|| Error::UnknownVariable(format!("#{}", var.0)))?;
        if state >= v.card() {
            return Err(Error::UnknownState {
                var: v.name.clone(),
                state: state.to_string(),
                states: v.states.clone(),
            });
        }
        if self.values.len() < vars.len() {
            self.values.resize(vars.len(), None);
        }
        match self.values[var.index()] {
            Some(s) if s != state => Err(Error::ConflictingEvidence(v.name.clone())),
            _ => {
                self.values[var.index()] = Some(state);
                Ok(())
            }
        }
    }

    /// Parse `"VAR=STATE,VAR2=STATE2"` against the model's variables. States are matched by name,
    /// then by 0-based index. Whitespace around items is ignored; an empty (or all-blank) string
    /// is no evidence, but an empty item (`"a=yes,"`, `"a=yes,,b=no"`) is a parse error.
    pub fn parse_spec(vars: &[Variable], spec: &str) -> Result<Self> {
        let mut ev = Evidence::new(vars.len());
        let index: std::collections::HashMap<&str, usize> = vars
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        let mut col = 1;
        let blank = spec.trim().is_empty();
        for item in spec.split(',') {
            let trimmed = item.trim();
            if trimmed.is_empty() && !blank {
                return Err(Error::Parse {
                    format: crate::error::Format::EvidenceSpec,
                    line: 1,
                    col,
                    msg: "empty item (a stray comma?); expected VAR=STATE".into(),
                });
            }
            if !trimmed.is_empty() {
                let (name, state) = trimmed.split_once('=').ok_or_else(|| Error::Parse {
                    format: crate::error::Format::EvidenceSpec,
                    line: 1,
                    col,
                    msg: format!("expected VAR=STATE, found '{trimmed}'"),
                })?;
                let (name, state) = (name.trim(), state.trim());
                let vi = *index
                    .get(name)
                    .ok_or_else(|| Error::UnknownVariable(name.to_string()))?;
                let si = vars[vi].resolve_state(state)?;
                ev.set(vars, VarId(vi as u32), si)?;
            }
            col += item.len() + 1;
        }
        Ok(ev)
    }

    /// Check that every observed variable exists in `vars` and its state is in range:
    /// [`Error::UnknownVariable`] or [`Error::UnknownState`] otherwise.
    pub fn check(&self, vars: &[Variable]) -> Result<()> {
        for (v, s) in self.iter() {
            let var = vars
                .get(v.index())
                .ok_or_else(|| Error::UnknownVariable(format!("#{}", v.0)))?;
            if s >= var.card() {
                return Err(Error::UnknownState {
                    var: var.name.clone(),
                    state: s.to_string(),
                    states: var.states.clone(),
                });
            }
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn values_mut_for_test(&mut self, var: usize, state: usize) {
        if self.values.len() <= var {
            self.values.resize(var + 1, None);
        }
        self.values[var] = Some(state);
    }

    /// Evidence from a per-variable slice of optional states (not validated against a model).
    pub fn from_options(values: Vec<Option<usize>>) -> Self {
        Evidence { values }
    }
}

/// A full assignment: one state index per variable of a model, in variable order.
pub type Assignment = [usize];

/// Add `v` to a model builder's variables and name index: the one check every builder makes
/// (at least one state, a name not used before). Returns the new variable's id.
pub(crate) fn push_variable(
    vars: &mut Vec<Variable>,
    names: &mut HashMap<String, VarId>,
    v: Variable,
) -> Result<VarId> {
    if v.states.is_empty() {
        return Err(Error::InvalidModel(format!(
            "variable '{}' has no states",
            v.name
        )));
    }
    if names.contains_key(&v.name) {
        return Err(Error::InvalidModel(format!(
            "variable '{}' is defined twice",
            v.name
        )));
    }
    let id = VarId(vars.len() as u32);
    names.insert(v.name.clone(), id);
    vars.push(v);
    Ok(id)
}
