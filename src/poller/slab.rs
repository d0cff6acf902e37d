//! [`Slab`]: the storage behind every id a [`Poller`](crate::Poller) hands
//! out — channels, datagram channels, servers.
//!
//! Slots are reused through a free list, so `insert` and `remove` are O(1)
//! and the slab never grows past the most entries held at once. Each slot
//! has a generation, bumped on every insert: an id keeps the generation it
//! was made with, so a stale id never reaches the slot's next occupant.

use std::ops::Range;

/// Values by slot index, with generations.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `make(index)` in a free slot; returns its index and generation.
    pub(crate) fn insert_with(&mut self, make: impl FnOnce(u32) -> T) -> (u32, u32) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                generation: 0,
                value: None,
            });
            (self.slots.len() - 1) as u32
        });
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.value = Some(make(index));
        (index, slot.generation)
    }

    /// Stores `value` at `index` with `generation`, for ids allocated
    /// elsewhere (the shared [`Ids`](super::ids::Ids) of stream channels);
    /// such a slab is emptied with [`remove_at`](Slab::remove_at).
    ///
    /// Inlined, with the growth out of line, so the caller's value is built
    /// in its slot: a poller's entry is ~500 bytes, and moving it in through
    /// a call copied it twice more per registration.
    #[inline]
    pub(crate) fn insert_at(&mut self, index: u32, generation: u32, value: T) {
        let at = index as usize;
        if self.slots.len() <= at {
            self.grow(at + 1);
        }
        let slot = &mut self.slots[at];
        slot.generation = generation;
        slot.value = Some(value);
    }

    /// Adds empty slots up to `len` (the `Vec` doubling as it goes).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, len: usize) {
        self.slots.resize_with(len, || Slot {
            generation: 0,
            value: None,
        });
    }

    /// Takes the value at `index` out, leaving the slot to whoever allocates
    /// its ids (the counterpart of [`insert_at`](Slab::insert_at)).
    pub(crate) fn remove_at(&mut self, index: u32) -> Option<T> {
        self.slots.get_mut(index as usize)?.value.take()
    }

    /// The value at `index`, if it is there and of `generation`.
    pub(crate) fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let slot = self.slots.get(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_ref()
    }

    /// The value at `index`, if it is there and of `generation`.
    pub(crate) fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// The value at `index` with its generation, whatever the generation.
    pub(crate) fn at_mut(&mut self, index: u32) -> Option<(u32, &mut T)> {
        let slot = self.slots.get_mut(index as usize)?;
        let generation = slot.generation;
        slot.value.as_mut().map(|value| (generation, value))
    }

    /// Takes the value at `index` out; its slot is free for the next insert.
    pub(crate) fn remove(&mut self, index: u32) -> Option<T> {
        let value = self.slots.get_mut(index as usize)?.value.take()?;
        self.free.push(index);
        Some(value)
    }

    /// The generation of the value at `index`, if there is one.
    pub(crate) fn generation_at(&self, index: u32) -> Option<u32> {
        let slot = self.slots.get(index as usize)?;
        slot.value.as_ref().map(|_| slot.generation)
    }

    /// Every slot index, occupied or not (to visit all values).
    pub(crate) fn indices(&self) -> Range<u32> {
        0..self.slots.len() as u32
    }

    /// The indices of every value `pred` holds for (for sweeps such as
    /// `close_all`'s; it allocates, so not for hot paths).
    pub(crate) fn matching(&self, pred: impl Fn(&T) -> bool) -> Vec<u32> {
        self.indices()
            .filter(|&i| self.slots[i as usize].value.as_ref().is_some_and(&pred))
            .collect()
    }

    /// Occupied slots.
    pub(crate) fn count(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
