//! The one error type of the library.
//!
//! Every fallible function returns [`Result<T>`]. Variants carry the numbers a user needs to act
//! (a line and column for parse errors, the sizes involved for [`Error::TooLarge`]), never just a
//! free-form string when a structured field fits.

use std::path::PathBuf;

/// Convenience alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A file format pgmkit reads or writes (used in [`Error::Parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Bayesian Interchange Format (`.bif`).
    Bif,
    /// UAI competition model format (`.uai`).
    Uai,
    /// UAI evidence file (`.evid`).
    UaiEvidence,
    /// libDAI factor graph (`.fg`).
    Fg,
    /// Evidence given on the command line (`VAR=STATE,...`).
    EvidenceSpec,
    /// Gaussian Bayesian network JSON (the bnlearn / pgmpy linear-Gaussian layout).
    GaussianBnJson,
    /// Gaussian MRF JSON (`"format": "pgmkit-gmrf"`).
    GmrfJson,
    /// Restricted Boltzmann machine JSON (`"format": "pgmkit-rbm"`).
    RbmJson,
    /// A data table (`.csv`, `.csv.gz`): header of variable names, cells of state names.
    Csv,
    /// XMLBIF 0.3 (`.xml`, `.xmlbif`).
    XmlBif,
    /// Hugin `.net`.
    HuginNet,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Format::Bif => "BIF",
            Format::Uai => "UAI",
            Format::UaiEvidence => "UAI evidence",
            Format::Fg => "libDAI .fg",
            Format::EvidenceSpec => "evidence",
            Format::GaussianBnJson => "Gaussian BN JSON",
            Format::GmrfJson => "GMRF JSON",
            Format::RbmJson => "RBM JSON",
            Format::Csv => "CSV",
            Format::XmlBif => "XMLBIF",
            Format::HuginNet => "Hugin .net",
        };
        f.write_str(s)
    }
}

/// Everything that can go wrong in pgmkit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed input file; `line` and `col` are 1-based.
    #[error("{format} parse error at line {line}, column {col}: {msg}")]
    Parse {
        /// Which format was being read.
        format: Format,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What was wrong.
        msg: String,
    },
    /// The model violates a structural rule (shape mismatch, duplicate variable, ...).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The directed graph of a Bayesian network has a cycle; the cycle is listed by variable name.
    #[error("the network has a directed cycle: {}", fmt_cycle(.0))]
    Cycle(Vec<String>),
    /// A CPT column does not sum to one within the tolerance (and renormalisation was not requested).
    #[error("CPT of '{var}' is not normalised: parent configuration {config} sums to {sum} (tolerance {tol:e}); load with renormalisation to fix it")]
    NotNormalized {
        /// Child variable of the CPT.
        var: String,
        /// Index of the parent configuration (row-major over the parents, first parent slowest).
        config: usize,
        /// The sum that was found.
        sum: f64,
        /// The tolerance in force.
        tol: f64,
    },
    /// A probability or potential is negative, NaN or infinite.
    #[error("invalid number in {what}: {value}")]
    InvalidNumber {
        /// Where the number was found.
        what: String,
        /// The offending value.
        value: f64,
    },
    /// A variable name that the model does not have.
    #[error("unknown variable '{0}'")]
    UnknownVariable(String),
    /// A state that the variable does not have.
    #[error("variable '{var}' has no state '{state}' (states: {})", .states.join(", "))]
    UnknownState {
        /// The variable.
        var: String,
        /// The state asked for.
        state: String,
        /// The states the variable does have.
        states: Vec<String>,
    },
    /// The same variable was given two different evidence values.
    #[error("conflicting evidence for variable '{0}'")]
    ConflictingEvidence(String),
    /// The evidence has probability zero under the model (or the model's partition function is 0).
    #[error("the evidence has probability zero under the model (Z = 0); no posterior exists")]
    ZeroProbabilityEvidence,
    /// Exact inference would need more memory than allowed.
    #[error("exact inference is too large: the best elimination order found has a clique of width {width} with a table of {largest_table} entries ({needed} bytes in all) but the limit is {limit} bytes; use an approximate method instead (ais, bp, mf, trw, gibbs) or raise the memory limit")]
    TooLarge {
        /// Induced width (largest clique size minus one) of the best order found; when every
        /// order was given up at its first clique over the limit, the width of that clique (a
        /// lower bound on the order's).
        width: usize,
        /// Entries of the largest clique table (or of the first one over the limit, as above).
        largest_table: f64,
        /// Bytes the computation would need (at least).
        needed: f64,
        /// The configured limit in bytes.
        limit: f64,
    },
    /// An allocation whose size comes from the input (a count option, a size in a file) would
    /// exceed the memory limit; refused before anything is allocated.
    #[error("{what} would need {} but the memory limit is {}; use a smaller value (or raise --memory-limit)", crate::limits::human_bytes(*.bytes), crate::limits::human_bytes(*.limit))]
    AllocationTooLarge {
        /// What would have been allocated (e.g. "particle states (1000000000 particles x 100 variables)").
        what: String,
        /// Bytes it would need.
        bytes: f64,
        /// The limit in force, in bytes.
        limit: f64,
    },
    /// A time budget ran out before any result could be formed (e.g. not one AIS particle
    /// finished). Work cut short by a budget that still gives a result reports it in the result
    /// instead.
    #[error("the time limit ({limit_seconds:.1} s left for this step) ran out before {what}; raise --time-limit or ask for less work")]
    TimeLimit {
        /// What could not be completed in time.
        what: String,
        /// The budget in seconds.
        limit_seconds: f64,
    },
    /// A computed number overflowed (infinite or NaN) where a finite result is required.
    #[error("numeric overflow: {what}")]
    Overflow {
        /// What overflowed, and why.
        what: String,
    },
    /// An output path is the same file as an input or as another output of the command; it is
    /// refused before any work so that no data is lost.
    #[error("refusing to write {role} {}: it is the same file as {other_role} {} (choose another path)", .output.display(), .other.display())]
    OutputClash {
        /// The output refused.
        output: PathBuf,
        /// What the output is (e.g. "--out").
        role: String,
        /// The file it would overwrite.
        other: PathBuf,
        /// What that file is (e.g. "the data").
        other_role: String,
    },
    /// A method that works on pairwise models only (every factor over at most two unobserved
    /// variables once the evidence is applied) met a larger factor.
    #[error("{method} supports pairwise models only: factor {factor} has {arity} unobserved variables once the evidence is applied; use mean field (lower bound) or loopy BP instead")]
    NotPairwise {
        /// The method (e.g. "TRW").
        method: &'static str,
        /// Index of the first factor with more than two unobserved variables.
        factor: usize,
        /// Its number of unobserved variables.
        arity: usize,
    },
    /// Every particle or sample of an importance-sampling method ended with weight zero, so no
    /// estimate can be formed.
    #[error("{method}: all {count} {what} have weight zero; {hint}")]
    AllWeightsZero {
        /// The method (e.g. "AIS", "likelihood weighting").
        method: &'static str,
        /// How many particles or samples ran.
        count: usize,
        /// What they are ("particles", "samples").
        what: &'static str,
        /// Why it may happen and what to try.
        hint: String,
    },
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A matrix that must be symmetric positive definite (a covariance or precision matrix) is
    /// not: its Cholesky factorisation met a pivot `pivot <= 0` (or not finite) when it
    /// eliminated row `index` (0-based, in the matrix's own numbering).
    #[error("the {what} is not positive definite (Cholesky pivot {pivot:e} at row {index})")]
    NotPositiveDefinite {
        /// Which matrix (e.g. "precision matrix", "covariance of the evidence").
        what: String,
        /// Row at which the factorisation failed.
        index: usize,
        /// The offending pivot (the Schur complement's diagonal entry there).
        pivot: f64,
    },
    /// A variance (of a linear-Gaussian CPD or a Gaussian base) is zero, negative or not finite.
    #[error("the variance of '{var}' must be positive and finite, got {value}")]
    NonPositiveVariance {
        /// The variable (or parameter) the variance belongs to.
        var: String,
        /// The value given.
        value: f64,
    },
    /// Two sizes that must agree do not (matrix not square, vector of the wrong length, a
    /// coefficient count different from the parent count, ...).
    #[error("dimension mismatch in {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// What was being checked.
        what: String,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// A data table does not fit the model (see [`DataErrorKind`]). `row` is the 1-based data row
    /// (the header is row 0) and `col` the 1-based column, where they apply.
    #[error("{}", data_error_message(*.row, *.col, .column_name.as_deref(), .kind))]
    Data {
        /// 1-based data row (0 = the header line); `None` when the error concerns a whole column or file.
        row: Option<usize>,
        /// 1-based column of the file; `None` when the error concerns the whole file.
        col: Option<usize>,
        /// Name of the column (from the header or the model), when known.
        column_name: Option<String>,
        /// What is wrong.
        kind: DataErrorKind,
    },
    /// Rows of a data table whose observed cells have probability zero under the model: they
    /// cannot be scored, learned from or imputed. Lists the 1-based data rows (at most the first 20
    /// in `rows`; `count` is the total).
    #[error("{count} data row(s) have probability zero under the model (first: {}); e.g. row {}: {why}", fmt_rows(.rows), .rows.first().copied().unwrap_or(0))]
    ZeroProbabilityRows {
        /// Number of such rows.
        count: usize,
        /// The first rows found (1-based data rows, ascending).
        rows: Vec<usize>,
        /// Why the first of them is impossible (the CPD entries that are zero).
        why: String,
    },
    /// Shards that are not parts of one run (see [`crate::infer::ais::shard::merge`]).
    #[error("shard {shard} does not belong with the others ({what}): it {detail}")]
    ShardMismatch {
        /// 0-based index of the shard (in the order given).
        shard: usize,
        /// What differs: `version`, `model`, `data`, `method`, `seed`, `settings`, `path` or
        /// `ranges`.
        what: &'static str,
        /// The difference, for people.
        detail: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A cycle for people: all of a short one, the ends of a long one.
fn fmt_cycle(names: &[String]) -> String {
    const SHOW: usize = 8;
    if names.len() <= 2 * SHOW + 1 {
        return names.join(" -> ");
    }
    format!(
        "{} -> ... ({} more) ... -> {} ({} variables in the cycle)",
        names[..SHOW].join(" -> "),
        names.len() - 2 * SHOW,
        names[names.len() - SHOW..].join(" -> "),
        names.len() - 1
    )
}

impl Error {
    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// What is wrong with a data table (the `kind` of [`Error::Data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// The file has no header line.
    Empty,
    /// A header column that names no variable of the model (only when extra columns are rejected).
    UnknownColumn,
    /// A variable of the model has no column (and was not declared latent).
    MissingColumn,
    /// Two header columns have the same name.
    DuplicateColumn,
    /// A row has a different number of cells than the header.
    RaggedRow {
        /// Cells of the header.
        expected: usize,
        /// Cells of this row.
        found: usize,
    },
    /// A cell names a state the variable does not have.
    UnknownState {
        /// The cell text.
        state: String,
        /// The states of the variable.
        states: Vec<String>,
    },
    /// Every cell of the column is missing (declare the variable latent to learn it anyway).
    AllMissing,
    /// The CSV syntax is broken (e.g. an unterminated quote) or a cell is not UTF-8.
    Syntax(String),
    /// A variable has more states than the compact codes hold (65 535).
    TooManyStates(usize),
    /// A cell of a numeric (continuous) column is neither a number nor a missing marker.
    NotANumber(String),
}

fn fmt_rows(rows: &[usize]) -> String {
    rows.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn data_error_message(
    row: Option<usize>,
    col: Option<usize>,
    name: Option<&str>,
    kind: &DataErrorKind,
) -> String {
    let mut at = String::from("CSV data error");
    if let Some(r) = row {
        if r == 0 {
            at.push_str(" in the header");
        } else {
            at.push_str(&format!(" at row {r}"));
        }
    }
    if let Some(c) = col {
        at.push_str(&format!(", column {c}"));
    }
    if let Some(n) = name {
        at.push_str(&format!(" ('{n}')"));
    }
    let what = match kind {
        DataErrorKind::Empty => "the file is empty (no header line)".to_string(),
        DataErrorKind::UnknownColumn => {
            "the column names no variable of the model (extra columns are rejected)".to_string()
        }
        DataErrorKind::MissingColumn => {
            "the model's variable has no column (declare it latent to learn it as hidden)"
                .to_string()
        }
        DataErrorKind::DuplicateColumn => "the column name appears twice in the header".to_string(),
        DataErrorKind::RaggedRow { expected, found } => {
            format!("the row has {found} cells but the header has {expected}")
        }
        DataErrorKind::UnknownState { state, states } => format!(
            "unknown state '{state}' (the variable's states: {})",
            states.join(", ")
        ),
        DataErrorKind::AllMissing => {
            "every cell of the column is missing (declare the variable latent to learn it as hidden)"
                .to_string()
        }
        DataErrorKind::Syntax(m) => format!("malformed CSV: {m}"),
        DataErrorKind::TooManyStates(k) => {
            format!("the variable has {k} states; data codes hold at most 65535")
        }
        DataErrorKind::NotANumber(t) => {
            format!("'{t}' is not a number (nor a missing marker) in a continuous column")
        }
    };
    format!("{at}: {what}")
}

/// [`Error::DimensionMismatch`] about `what` unless `found == expected`.
pub(crate) fn check_dim(what: &str, expected: usize, found: usize) -> Result<()> {
    if found != expected {
        return Err(Error::DimensionMismatch {
            what: what.into(),
            expected,
            found,
        });
    }
    Ok(())
}
