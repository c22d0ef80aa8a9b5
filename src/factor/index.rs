//! The ONE stride convention of pgmkit.
//!
//! A table over a scope `[v0, v1, ..., vk]` with cardinalities `[c0, ..., ck]` is stored row-major:
//! the **last** scope variable changes fastest. The flat index of states `[s0, ..., sk]` is
//! `((s0 * c1 + s1) * c2 + s2) ...`. (This is the UAI file convention; libDAI's `.fg` is the
//! reverse and is converted on read.)

/// Row-major strides for the given cardinalities (last variable has stride 1).
pub fn strides(cards: &[usize]) -> Vec<usize> {
    let mut s = vec![0; cards.len()];
    let mut acc = 1usize;
    for i in (0..cards.len()).rev() {
        s[i] = acc;
        acc = acc.saturating_mul(cards[i]);
    }
    s
}

/// Number of entries of a table with these cardinalities, or `None` on overflow.
pub fn table_len(cards: &[usize]) -> Option<usize> {
    cards.iter().try_fold(1usize, |a, &c| a.checked_mul(c))
}

/// Flat index of `states` under `cards` (row-major).
#[inline]
pub fn flat_index(cards: &[usize], states: &[usize]) -> usize {
    let mut idx = 0;
    for (c, s) in cards.iter().zip(states) {
        idx = idx * c + s;
    }
    idx
}

/// Decode a flat index into states (row-major).
pub fn unflatten(cards: &[usize], mut idx: usize, out: &mut [usize]) {
    for i in (0..cards.len()).rev() {
        out[i] = idx % cards[i];
        idx /= cards[i];
    }
}

/// For each variable of `outer` (a sorted scope), its stride inside the table over `inner`
/// (another sorted scope), or 0 if the variable is not in `inner`.
pub fn stride_map<T: Ord>(outer: &[T], inner: &[T], inner_cards: &[usize]) -> Vec<usize> {
    let inner_strides = strides(inner_cards);
    outer
        .iter()
        .map(|v| match inner.binary_search(v) {
            Ok(p) => inner_strides[p],
            Err(_) => 0,
        })
        .collect()
}

/// Walk every entry of a table with cardinalities `cards` in flat order, calling
/// `f(flat_outer, idx)` where `idx[j]` is the matching flat index into the j-th sub-table described
/// by `maps[j]` (a [`stride_map`] of the outer scope into that sub-table).
///
/// The innermost dimension is run as a tight loop, so the cost is close to one add per entry and
/// sub-table.
pub fn for_each_joint<const K: usize>(
    cards: &[usize],
    maps: [&[usize]; K],
    mut f: impl FnMut(usize, [usize; K]),
) {
    let n = cards.len();
    let total = table_len(cards).expect("table size overflow");
    if total == 0 {
        return;
    }
    if n == 0 {
        f(0, [0; K]);
        return;
    }
    let last = n - 1;
    let inner_card = cards[last];
    let inner_steps: [usize; K] = std::array::from_fn(|j| maps[j][last]);
    let mut counter = vec![0usize; n];
    let mut base = [0usize; K];
    let mut flat = 0usize;
    loop {
        let mut idx = base;
        for _ in 0..inner_card {
            f(flat, idx);
            flat += 1;
            for j in 0..K {
                idx[j] += inner_steps[j];
            }
        }
        // advance the odometer over dimensions 0..last
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            counter[d] += 1;
            for j in 0..K {
                base[j] += maps[j][d];
            }
            if counter[d] < cards[d] {
                break;
            }
            for j in 0..K {
                base[j] -= maps[j][d] * cards[d];
            }
            counter[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(flat_index(&[2, 3, 4], &[1, 2, 3]), 23);
        let mut s = [0; 3];
        unflatten(&[2, 3, 4], 23, &mut s);
        assert_eq!(s, [1, 2, 3]);
    }

    #[test]
    fn joint_walk_matches_direct_indexing() {
        let outer = [0u32, 2, 5];
        let cards = [2usize, 3, 2];
        let inner = [0u32, 5];
        let inner_cards = [2usize, 2];
        let map = stride_map(&outer, &inner, &inner_cards);
        let mut seen = vec![];
        for_each_joint(&cards, [&map], |flat, [j]| seen.push((flat, j)));
        assert_eq!(seen.len(), 12);
        for (flat, j) in seen {
            let mut s = [0; 3];
            unflatten(&cards, flat, &mut s);
            assert_eq!(j, flat_index(&inner_cards, &[s[0], s[2]]));
        }
    }
}
