//! Models: Bayesian networks and Markov networks / factor graphs, plus grid builders.

pub mod bayes_net;
pub mod markov;
pub mod rbm;

pub use bayes_net::{BayesNet, BayesNetBuilder, Cpd};
pub use markov::{grid_edges, ising_grid, potts_grid, Boundary, FactorGraph, FactorGraphBuilder};

/// A model loaded from a file: directed or undirected.
#[derive(Debug, Clone)]
pub enum Model {
    /// A Bayesian network (BIF, UAI `BAYES`).
    Bayes(BayesNet),
    /// A Markov network / factor graph (UAI `MARKOV`, libDAI `.fg`).
    Markov(FactorGraph),
}

impl Model {
    /// The variables.
    pub fn vars(&self) -> &[crate::var::Variable] {
        match self {
            Model::Bayes(b) => b.vars(),
            Model::Markov(m) => m.vars(),
        }
    }

    /// The id of the variable named `name`.
    ///
    /// Errors: [`crate::Error::UnknownVariable`].
    pub fn var_id(&self, name: &str) -> crate::Result<crate::VarId> {
        match self {
            Model::Bayes(b) => b.var_id(name),
            Model::Markov(m) => m.var_id(name),
        }
    }

    /// The model as a factor graph (a Bayesian network is lowered, one factor per CPD).
    pub fn to_factor_graph(&self) -> FactorGraph {
        match self {
            Model::Bayes(b) => b.to_factor_graph(),
            Model::Markov(m) => m.clone(),
        }
    }
}
