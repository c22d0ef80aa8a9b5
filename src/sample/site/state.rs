//! Read/write access to the chain state during a sweep (sequential `Cell`s or the shared
//! parallel view), and the uniform draws of the update rules.

use std::cell::Cell;

use rand::RngCore;

// ---------------------------------------------------------------------------------------------
// State access shared by sequential (Cell) and parallel (SharedState) sweeps
// ---------------------------------------------------------------------------------------------

/// Read/write access to the chain state during a sweep.
pub(crate) trait StateView {
    fn get(&self, i: usize) -> usize;
    fn set(&self, i: usize, v: usize);
}

impl StateView for [Cell<usize>] {
    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        debug_assert!(i < self.len());
        // SAFETY: every variable index stored in a kernel is < num_vars, and each sweep asserts
        // that the state has exactly num_vars entries.
        unsafe { self.get_unchecked(i).get() }
    }
    #[inline(always)]
    fn set(&self, i: usize, v: usize) {
        debug_assert!(i < self.len());
        // SAFETY: as in `get`.
        unsafe { self.get_unchecked(i).set(v) }
    }
}

/// The chain state shared by the threads of a chromatic sweep.
///
/// During the update of one colour class, each variable of the class is read and written by the
/// one thread whose chunk holds it, and the variables it reads (its neighbours) belong to other
/// colour classes, which nobody writes meanwhile (the colouring is proper). So no memory location
/// is written by one thread while another accesses it: plain loads and stores are race-free.
pub(crate) struct SharedState<'a> {
    pub(crate) ptr: *mut usize,
    pub(crate) len: usize,
    pub(crate) _borrow: std::marker::PhantomData<&'a mut [usize]>,
}

// SAFETY: see the type docs: concurrent accesses through a SharedState never touch the same
// location when one of them is a write.
unsafe impl Sync for SharedState<'_> {}

impl<'a> SharedState<'a> {
    pub(crate) fn new(s: &'a mut [usize]) -> Self {
        SharedState {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// A copy of the view for one task: a local the compiler can keep in registers (a view
    /// reached through a shared closure would be reloaded after every store through it).
    #[inline(always)]
    pub(crate) fn local(&self) -> SharedState<'_> {
        SharedState {
            ptr: self.ptr,
            len: self.len,
            _borrow: std::marker::PhantomData,
        }
    }
}

impl StateView for SharedState<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        debug_assert!(i < self.len);
        // SAFETY: i < len (kernel invariant, see the Cell view); race-freedom: see the type docs.
        unsafe { self.ptr.add(i).read() }
    }
    #[inline(always)]
    fn set(&self, i: usize, v: usize) {
        debug_assert!(i < self.len);
        // SAFETY: as in `get`.
        unsafe { self.ptr.add(i).write(v) }
    }
}

/// A uniform index in `0..n` (multiply-shift; bias below `n / 2^64`).
#[inline(always)]
pub(crate) fn pick_index<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}
