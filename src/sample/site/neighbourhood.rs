//! The precomputed local structure of a factor graph under evidence: per free variable, the
//! factors that mention it with their strides, colour classes, binary threshold tables.

use rand::Rng;

use super::drive::*;
use super::state::*;
use crate::error::{Error, Result};
use crate::factor::index::strides;
use crate::factor::TableFactor;
use crate::model::FactorGraph;
use crate::num;
use crate::sample::gibbs::{GibbsOptions, Scan, UpdatePath, MAX_TABLE_DEGREE, MAX_TABLE_ENTRIES};
use crate::sample::{TemperedBase, Tempering};
use crate::var::{Evidence, VarId};

// ---------------------------------------------------------------------------------------------
// Precomputed local structure
// ---------------------------------------------------------------------------------------------

/// One factor in the neighbourhood of a variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nb {
    /// Offset of the factor's table in the arenas.
    pub(crate) tab: u32,
    /// Stride of the variable in the table.
    pub(crate) stride: u32,
    /// Range `oth..oth+noth` of the other scope members in `Local::others`.
    pub(crate) oth: u32,
    pub(crate) noth: u32,
    /// Index of the factor.
    pub(crate) fac: u32,
}

/// A factor of the reduced, merged model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fac {
    pub(crate) tab: u32,
    pub(crate) len: u32,
    /// Range of `(var, stride)` pairs in `Local::fvars`.
    pub(crate) vs: u32,
    pub(crate) ve: u32,
}

/// Binary pairwise representation: `logit p(x_i = 1 | rest) = c_i + sum_k w_k x_{j_k}`.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    pub(crate) c: Vec<f64>,
    pub(crate) start: Vec<u32>,
    pub(crate) nbr: Vec<u32>,
    pub(crate) w: Vec<f64>,
    /// Threshold tables.
    pub(crate) thr: Option<Thresholds>,
}

/// Per variable, `2^degree` 64-bit thresholds `T` (state 1 iff a random `u64` is below `T`), of
/// which only the high 32 bits are stored; the low bits are recomputed (with the same
/// floating-point operations, so bit for bit) only when the high bits of the draw equal the high
/// bits of `T`, which happens with probability `2^-32`. Half the cache footprint of full
/// thresholds, the same decisions (exact to `2^-64`).
#[derive(Debug, Clone)]
pub(crate) struct Thresholds {
    pub(crate) off: Vec<u32>,
    pub(crate) hi: Vec<u32>,
}

impl Binary {
    /// The 64-bit threshold of variable `i` when its neighbours are in configuration `cfg`
    /// (bit `k` = state of the `k`-th neighbour).
    #[inline(never)]
    pub(crate) fn threshold(&self, i: usize, cfg: usize) -> u64 {
        let ws = &self.w[self.start[i] as usize..self.start[i + 1] as usize];
        let mut a = self.c[i];
        for (k, wk) in ws.iter().enumerate() {
            if cfg >> k & 1 == 1 {
                a += wk;
            }
        }
        threshold(sigmoid(a))
    }
}

/// What Gibbs and Metropolis kernels precompute from a model and its evidence.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub(crate) n: usize,
    pub(crate) cards: Vec<usize>,
    /// Clamped state (evidence, or the single state of a one-state variable).
    pub(crate) fixed: Vec<Option<usize>>,
    /// Free variables, ascending.
    pub(crate) free: Vec<u32>,
    /// Clamped variables, ascending (the complement of `free`).
    pub(crate) clamped: Vec<u32>,
    /// Colour classes of the free variables (greedy, in variable order).
    pub(crate) classes: Vec<Vec<u32>>,
    /// The systematic-scan order: the colour classes one after the other.
    pub(crate) order: Vec<u32>,
    pub(crate) max_card: usize,
    pub(crate) facs: Vec<Fac>,
    pub(crate) fvars: Vec<(u32, u32)>,
    pub(crate) log_tab: Vec<f64>,
    pub(crate) prob_tab: Vec<f64>,
    pub(crate) nb_start: Vec<u32>,
    pub(crate) nb: Vec<Nb>,
    pub(crate) others: Vec<(u32, u32)>,
    pub(crate) bin: Option<Binary>,
}

/// `b ⊆ a` for sorted scopes.
pub(crate) fn is_subset(b: &[VarId], a: &[VarId]) -> bool {
    let mut j = 0;
    for v in b {
        while j < a.len() && a[j] < *v {
            j += 1;
        }
        if j == a.len() || a[j] != *v {
            return false;
        }
        j += 1;
    }
    true
}

pub(crate) fn threshold(p1: f64) -> u64 {
    if p1 >= 1.0 {
        u64::MAX
    } else if p1 > 0.0 {
        (p1 * 18_446_744_073_709_551_616.0) as u64
    } else {
        0
    }
}

#[inline(always)]
pub(crate) fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + num::exp(-a))
}

impl Local {
    /// Precompute the neighbourhoods of `fg` under `ev`.
    pub(crate) fn new(fg: &FactorGraph, ev: &Evidence) -> Result<Local> {
        let n = fg.num_vars();
        if n >= u32::MAX as usize {
            return Err(Error::InvalidModel(format!(
                "{n} variables are more than MCMC kernels support"
            )));
        }
        let cards = fg.cards();
        let mut fixed: Vec<Option<usize>> = vec![None; n];
        for (i, v) in ev.as_slice().iter().enumerate() {
            if let Some(s) = *v {
                if i >= n {
                    return Err(Error::UnknownVariable(format!("#{i}")));
                }
                if s >= cards[i] {
                    let var = fg.var(VarId(i as u32));
                    return Err(Error::UnknownState {
                        var: var.name.clone(),
                        state: s.to_string(),
                        states: var.states.clone(),
                    });
                }
                fixed[i] = Some(s);
            }
        }
        for i in 0..n {
            if cards[i] == 1 {
                fixed[i] = Some(0);
            }
        }
        let clamp = Evidence::from_options(fixed.clone());
        // reduce by the evidence; constant factors only matter when they are zero
        let mut facs: Vec<TableFactor> = Vec::with_capacity(fg.factors().len());
        for f in fg.factors() {
            let r = f.reduce(&clamp);
            if r.scope().is_empty() {
                if r.log_values()[0] == f64::NEG_INFINITY {
                    return Err(Error::ZeroProbabilityEvidence);
                }
                continue;
            }
            facs.push(r);
        }
        // merge each factor into a (later) factor whose scope contains it
        let m = facs.len();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by_key(|&k| (facs[k].scope().len(), k));
        let mut rank = vec![0usize; m];
        for (r, &k) in order.iter().enumerate() {
            rank[k] = r;
        }
        let mut var_facs: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (k, f) in facs.iter().enumerate() {
            for v in f.scope() {
                var_facs[v.index()].push(k as u32);
            }
        }
        let mut alive = vec![true; m];
        for &k in &order {
            let scope = facs[k].scope();
            // the smallest later factor containing this scope (all candidates mention scope[0])
            let host = var_facs[scope[0].index()]
                .iter()
                .map(|&g| g as usize)
                .filter(|&g| {
                    g != k && alive[g] && rank[g] > rank[k] && is_subset(scope, facs[g].scope())
                })
                .min_by_key(|&g| (facs[g].len(), rank[g]));
            if let Some(g) = host {
                let merged = facs[g].product(&facs[k]);
                debug_assert_eq!(merged.scope(), facs[g].scope());
                facs[g] = merged;
                alive[k] = false;
            }
        }
        let facs: Vec<TableFactor> = facs
            .into_iter()
            .zip(&alive)
            .filter_map(|(f, &a)| a.then_some(f))
            .collect();

        // arenas
        let total: usize = facs.iter().map(|f| f.len()).sum();
        if total >= u32::MAX as usize {
            return Err(Error::InvalidModel(format!(
                "the factor tables have {total} entries, more than MCMC kernels support"
            )));
        }
        let mut log_tab = Vec::with_capacity(total);
        let mut prob_tab = Vec::with_capacity(total);
        let mut fac_info = Vec::with_capacity(facs.len());
        let mut fvars = Vec::new();
        for f in &facs {
            let mx = f
                .log_values()
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            if mx == f64::NEG_INFINITY {
                // a factor that is zero everywhere (after the evidence): Z = 0
                return Err(Error::ZeroProbabilityEvidence);
            }
            let tab = log_tab.len() as u32;
            log_tab.extend_from_slice(f.log_values());
            prob_tab.extend(f.log_values().iter().map(|&l| num::exp(l - mx)));
            let st = strides(f.cards());
            let vs = fvars.len() as u32;
            for (v, s) in f.scope().iter().zip(st) {
                fvars.push((v.0, s as u32));
            }
            fac_info.push(Fac {
                tab,
                len: f.len() as u32,
                vs,
                ve: fvars.len() as u32,
            });
        }
        // neighbourhoods
        let mut deg = vec![0u32; n + 1];
        for f in &fac_info {
            for &(v, _) in &fvars[f.vs as usize..f.ve as usize] {
                deg[v as usize] += 1;
            }
        }
        let mut nb_start = vec![0u32; n + 1];
        for i in 0..n {
            nb_start[i + 1] = nb_start[i] + deg[i];
        }
        let mut fill = nb_start.clone();
        let placeholder = Nb {
            tab: 0,
            stride: 0,
            oth: 0,
            noth: 0,
            fac: 0,
        };
        let mut nb = vec![placeholder; nb_start[n] as usize];
        let mut others = Vec::new();
        for (k, f) in fac_info.iter().enumerate() {
            let sc = &fvars[f.vs as usize..f.ve as usize];
            for (p, &(v, s)) in sc.iter().enumerate() {
                let oth = others.len() as u32;
                for (q, &pair) in sc.iter().enumerate() {
                    if q != p {
                        others.push(pair);
                    }
                }
                let slot = &mut fill[v as usize];
                nb[*slot as usize] = Nb {
                    tab: f.tab,
                    stride: s,
                    oth,
                    noth: (sc.len() - 1) as u32,
                    fac: k as u32,
                };
                *slot += 1;
            }
        }
        let free: Vec<u32> = (0..n as u32)
            .filter(|&i| fixed[i as usize].is_none())
            .collect();
        let clamped: Vec<u32> = (0..n as u32)
            .filter(|&i| fixed[i as usize].is_some())
            .collect();
        let max_card = free.iter().map(|&i| cards[i as usize]).max().unwrap_or(1);
        let mut local = Local {
            n,
            cards,
            fixed,
            free,
            clamped,
            classes: Vec::new(),
            order: Vec::new(),
            max_card,
            facs: fac_info,
            fvars,
            log_tab,
            prob_tab,
            nb_start,
            nb,
            others,
            bin: None,
        };
        local.bin = local.binary();
        local.classes = local.colour_classes();
        local.order = local.classes.concat();
        Ok(local)
    }

    /// The binary pairwise representation, if every free variable is binary, every factor has at
    /// most two variables and every entry is finite.
    pub(crate) fn binary(&self) -> Option<Binary> {
        if self.free.iter().any(|&i| self.cards[i as usize] != 2)
            || self.facs.iter().any(|f| f.ve - f.vs > 2)
            || self.log_tab.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let n = self.n;
        let mut c = vec![0.0; n];
        let mut start = vec![0u32; n + 1];
        let mut nbr = Vec::new();
        let mut w = Vec::new();
        for i in 0..n {
            if self.fixed[i].is_none() {
                for e in self.nbs(i) {
                    let (b, s) = (e.tab as usize, e.stride as usize);
                    let t = &self.log_tab;
                    if e.noth == 0 {
                        c[i] += t[b + s] - t[b];
                    } else {
                        let (j, sj) = self.others[e.oth as usize];
                        let sj = sj as usize;
                        let d0 = t[b + s] - t[b];
                        let d1 = t[b + sj + s] - t[b + sj];
                        c[i] += d0;
                        nbr.push(j);
                        w.push(d1 - d0);
                    }
                }
            }
            start[i + 1] = nbr.len() as u32;
        }
        let mut bin = Binary {
            c,
            start,
            nbr,
            w,
            thr: None,
        };
        let max_deg = (0..n)
            .map(|i| (bin.start[i + 1] - bin.start[i]) as usize)
            .max()
            .unwrap_or(0);
        if max_deg <= MAX_TABLE_DEGREE {
            let entries: usize = self
                .free
                .iter()
                .map(|&i| 1usize << (bin.start[i as usize + 1] - bin.start[i as usize]))
                .sum();
            if entries <= MAX_TABLE_ENTRIES {
                let mut off = vec![0u32; n];
                let mut hi = Vec::with_capacity(entries);
                for &i in &self.free {
                    let i = i as usize;
                    off[i] = hi.len() as u32;
                    let d = bin.start[i + 1] - bin.start[i];
                    for cfg in 0..1usize << d {
                        hi.push((bin.threshold(i, cfg) >> 32) as u32);
                    }
                }
                bin.thr = Some(Thresholds { off, hi });
            }
        }
        Some(bin)
    }

    #[inline(always)]
    pub(crate) fn nbs(&self, i: usize) -> &[Nb] {
        &self.nb[self.nb_start[i] as usize..self.nb_start[i + 1] as usize]
    }

    /// Flat index of the factor entry with the variable of `e` at state 0.
    #[inline(always)]
    pub(crate) fn base<S: StateView + ?Sized>(&self, e: &Nb, x: &S) -> usize {
        let mut b = e.tab as usize;
        for &(j, s) in &self.others[e.oth as usize..(e.oth + e.noth) as usize] {
            b += x.get(j as usize) * s as usize;
        }
        b
    }

    /// Interacting free variables of `i` (with repetitions).
    pub(crate) fn neighbours(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        self.nbs(i).iter().flat_map(move |e| {
            self.others[e.oth as usize..(e.oth + e.noth) as usize]
                .iter()
                .map(|&(j, _)| j)
        })
    }

    /// Greedy colouring of the free variables in variable order.
    pub(crate) fn colour_classes(&self) -> Vec<Vec<u32>> {
        let mut colour = vec![u32::MAX; self.n];
        let mut stamp: Vec<u32> = Vec::new();
        let mut classes: Vec<Vec<u32>> = Vec::new();
        for &i in &self.free {
            let i = i as usize;
            for j in self.neighbours(i) {
                let c = colour[j as usize];
                if c != u32::MAX {
                    stamp[c as usize] = i as u32 + 1;
                }
            }
            let c = (0..stamp.len())
                .find(|&c| stamp[c] != i as u32 + 1)
                .unwrap_or(stamp.len());
            if c == stamp.len() {
                stamp.push(0);
                classes.push(Vec::new());
            }
            colour[i] = c as u32;
            classes[c].push(i as u32);
        }
        classes
    }

    /// The visiting plan of a scan.
    pub(crate) fn plan(&self, opts: &GibbsOptions) -> Plan<'_> {
        match opts.scan {
            Scan::Systematic => Plan::Systematic(&self.order),
            Scan::Random => Plan::Random(&self.free),
            Scan::Chromatic => Plan::Chromatic(&self.classes, opts.chunk_size),
        }
    }

    /// Which path a sweep at `temp` takes.
    pub(crate) fn path(&self, temp: &Tempering<'_>, tables: bool) -> UpdatePath {
        let target = temp.beta == 1.0;
        match &self.bin {
            Some(b) if target && tables && b.thr.is_some() => UpdatePath::BinaryTable,
            Some(_) => UpdatePath::BinaryLogOdds,
            None if target => UpdatePath::GeneralProb,
            None => UpdatePath::GeneralLog,
        }
    }

    /// Panics with a clear message when a sweep is called with a state or temperature that does
    /// not fit the kernel (a programming error; the chain runner validates user input).
    pub(crate) fn check_sweep(&self, state: &[usize], temp: &Tempering<'_>) {
        assert_eq!(
            state.len(),
            self.n,
            "MCMC state has {} entries but the model has {} variables",
            state.len(),
            self.n
        );
        assert!(
            (0.0..=1.0).contains(&temp.beta),
            "inverse temperature {} is outside [0, 1]",
            temp.beta
        );
        match temp.base {
            TemperedBase::Uniform => {}
            TemperedBase::Factorised(b) => {
                assert_eq!(b.len(), self.n, "tempering base has the wrong length")
            }
            TemperedBase::Factors(_) => {
                panic!("single-site kernels take a uniform or factorised base, not factor tables")
            }
        }
    }

    /// Tempered log conditional of all states of `i` into `buf` (sums of factor logs).
    #[inline(always)]
    pub(crate) fn log_cond<S: StateView + ?Sized>(
        &self,
        i: usize,
        x: &S,
        t: super::updates::Temper<'_>,
        buf: &mut [f64],
    ) {
        let (beta, base) = (t.beta, t.base);
        let c = buf.len();
        if beta == 0.0 {
            match base {
                Some(b) => buf.copy_from_slice(&b[i][..c]),
                None => buf.fill(0.0),
            }
            return;
        }
        buf.fill(0.0);
        for e in self.nbs(i) {
            let b = self.base(e, x);
            let s = e.stride as usize;
            for (v, out) in buf.iter_mut().enumerate() {
                *out += self.log_tab[b + v * s];
            }
        }
        if beta != 1.0 {
            buf.iter_mut().for_each(|l| *l *= beta);
            if let Some(bs) = base {
                let w = 1.0 - beta;
                for (l, &q) in buf.iter_mut().zip(&bs[i][..c]) {
                    *l += w * q;
                }
            }
        }
    }

    /// Number of factors that are zero at `x` (only the free variables and evidence matter).
    pub(crate) fn zero_factors(&self, x: &[usize]) -> usize {
        self.facs
            .iter()
            .filter(|f| self.fac_log(f, x) == f64::NEG_INFINITY)
            .count()
    }

    pub(crate) fn fac_log(&self, f: &Fac, x: &[usize]) -> f64 {
        let mut b = f.tab as usize;
        for &(v, s) in &self.fvars[f.vs as usize..f.ve as usize] {
            b += x[v as usize] * s as usize;
        }
        debug_assert!(b < (f.tab + f.len) as usize);
        self.log_tab[b]
    }

    /// Zero-temperature repair / focused random walk: look for a state where no factor is zero.
    pub(crate) fn local_search<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        restarts: usize,
    ) -> Option<Vec<usize>> {
        let nf = self.free.len();
        let max_steps = 200 * nf + 10_000;
        let mut zc = vec![0usize; self.max_card];
        for _ in 0..restarts {
            let mut x: Vec<usize> = (0..self.n)
                .map(|i| match self.fixed[i] {
                    Some(s) => s,
                    None => pick_index(rng, self.cards[i]),
                })
                .collect();
            // violated factors: list with positions
            let mut pos = vec![u32::MAX; self.facs.len()];
            let mut viol: Vec<u32> = Vec::new();
            for (k, f) in self.facs.iter().enumerate() {
                if self.fac_log(f, &x) == f64::NEG_INFINITY {
                    pos[k] = viol.len() as u32;
                    viol.push(k as u32);
                }
            }
            let set_var = |x: &mut Vec<usize>,
                           i: usize,
                           v: usize,
                           pos: &mut Vec<u32>,
                           viol: &mut Vec<u32>| {
                x[i] = v;
                for e in self.nbs(i) {
                    let k = e.fac as usize;
                    let z = self.fac_log(&self.facs[k], x) == f64::NEG_INFINITY;
                    if z && pos[k] == u32::MAX {
                        pos[k] = viol.len() as u32;
                        viol.push(k as u32);
                    } else if !z && pos[k] != u32::MAX {
                        let p = pos[k] as usize;
                        let last = *viol.last().expect("non-empty");
                        viol.swap_remove(p);
                        if p < viol.len() {
                            pos[last as usize] = p as u32;
                        }
                        pos[k] = u32::MAX;
                    }
                }
            };
            // the state of `i` with the fewest zero factors around it (ties at random)
            let best_state = |x: &Vec<usize>, i: usize, rng: &mut R, zc: &mut [usize]| {
                let c = self.cards[i];
                let zc = &mut zc[..c];
                zc.fill(0);
                for e in self.nbs(i) {
                    let mut b = e.tab as usize;
                    for &(j, s) in &self.others[e.oth as usize..(e.oth + e.noth) as usize] {
                        b += x[j as usize] * s as usize;
                    }
                    for (v, z) in zc.iter_mut().enumerate() {
                        if self.log_tab[b + v * e.stride as usize] == f64::NEG_INFINITY {
                            *z += 1;
                        }
                    }
                }
                let best = *zc.iter().min().expect("card >= 1");
                let ties = zc.iter().filter(|&&z| z == best).count();
                let mut pick = pick_index(rng, ties);
                for (v, &z) in zc.iter().enumerate() {
                    if z == best {
                        if pick == 0 {
                            return v;
                        }
                        pick -= 1;
                    }
                }
                unreachable!("a tie was counted")
            };
            // a few greedy sweeps, then a focused random walk
            for _ in 0..3 {
                if viol.is_empty() {
                    break;
                }
                for &i in &self.free {
                    let v = best_state(&x, i as usize, rng, &mut zc);
                    set_var(&mut x, i as usize, v, &mut pos, &mut viol);
                }
            }
            let mut steps = 0;
            while !viol.is_empty() && steps < max_steps {
                steps += 1;
                let f = self.facs[viol[pick_index(rng, viol.len())] as usize];
                let sc = &self.fvars[f.vs as usize..f.ve as usize];
                let i = sc[pick_index(rng, sc.len())].0 as usize;
                let v = if num::uniform(rng) < 0.2 {
                    pick_index(rng, self.cards[i])
                } else {
                    best_state(&x, i, rng, &mut zc)
                };
                set_var(&mut x, i, v, &mut pos, &mut viol);
            }
            if viol.is_empty() {
                debug_assert_eq!(self.zero_factors(&x), 0);
                return Some(x);
            }
        }
        None
    }
}
