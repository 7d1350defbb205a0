//! Union-find (disjoint sets) over `0..n`, for grouping duplicates into clusters.
//!
//! Union by size and path halving keep every operation near constant time.
//!
//! ```
//! use autodidact_curate::unionfind::UnionFind;
//! let mut u = UnionFind::new(4);
//! u.union(0, 2);
//! assert!(u.same(0, 2));
//! assert!(!u.same(0, 1));
//! ```

/// Disjoint sets over the elements `0..n`.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets (`n` is capped at `u32::MAX` elements).
    pub fn new(n: usize) -> Self {
        let n = n.min(u32::MAX as usize) as u32;
        UnionFind { parent: (0..n).collect(), size: vec![1; n as usize] }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The representative of `x`'s set (elements out of range are their own set).
    pub fn find(&mut self, x: usize) -> usize {
        if x >= self.parent.len() {
            return x;
        }
        let mut x = x as u32;
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x as usize
    }

    /// Merges the sets of `a` and `b`; false when they were already one set.
    pub fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb || ra >= self.parent.len() || rb >= self.parent.len() {
            return false;
        }
        let (big, small) = if self.size[ra] >= self.size[rb] { (ra, rb) } else { (rb, ra) };
        self.parent[small] = big as u32;
        self.size[big] += self.size[small];
        true
    }

    /// Whether `a` and `b` are in the same set.
    pub fn same(&mut self, a: usize, b: usize) -> bool {
        self.find(a) == self.find(b)
    }

    /// The size of `x`'s set.
    pub fn set_size(&mut self, x: usize) -> usize {
        let r = self.find(x);
        self.size.get(r).map_or(1, |&s| s as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_build_the_expected_partition() {
        let mut u = UnionFind::new(10);
        for (a, b) in [(0, 1), (2, 3), (1, 3), (5, 6), (7, 7), (6, 5)] {
            u.union(a, b);
        }
        // Expected partition: {0,1,2,3} {4} {5,6} {7} {8} {9}.
        let groups = [vec![0, 1, 2, 3], vec![4], vec![5, 6], vec![7], vec![8], vec![9]];
        for g in &groups {
            for &x in g {
                assert_eq!(u.set_size(x), g.len(), "size of {x}'s set");
                for h in &groups {
                    for &y in h {
                        assert_eq!(u.same(x, y), std::ptr::eq(g, h), "same({x}, {y})");
                    }
                }
            }
        }
        assert!(!u.union(0, 3), "already joined");
        assert!(u.union(4, 9));
        assert_eq!(u.set_size(9), 2);
        // Out-of-range elements are singletons, not a panic.
        assert_eq!(u.find(42), 42);
        assert!(!u.union(42, 0));
        assert_eq!(u.len(), 10);
    }

    #[test]
    fn long_chains_stay_consistent() {
        let n = 10_000;
        let mut u = UnionFind::new(n);
        for i in 1..n {
            u.union(i - 1, i);
        }
        let r = u.find(0);
        assert!((0..n).all(|i| u.find(i) == r));
        assert_eq!(u.set_size(n - 1), n);
    }
}
