//! The ids of a poller's stream channels, shared with its
//! [`PollerHandle`](crate::PollerHandle)s: so a handle can hand out an id
//! for a channel it registers, and tell a gone id from a live one, without
//! waiting for the poller.
//!
//! | slot state | `check` (handles) | leaves when |
//! |------------|-------------------|-------------|
//! | free       | `Closed`          | `allocate` → visible |
//! | visible    | `Ok` (`NotWritable` without a write side) | its `Closed` is yielded → hidden (lingering) or free; `unregister` → free |
//! | hidden     | `Closed`          | the slot is freed → free |
//!
//! The owner's `write` never comes here: it looks at its own slab. Only
//! registering and freeing take the lock (and handle calls).

use std::sync::Mutex;

use super::ChannelId;
use crate::{Error, Result};

/// Channel ids by slot index, with generations; one lock.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    generation: u32,
    occupied: bool,
    visible: bool,
    writable: bool,
}

impl Ids {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave a slot half-written: every change is one assignment.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh id for a new channel (`writable`: it has a write side).
    pub(crate) fn allocate(&self, writable: bool) -> ChannelId {
        let mut state = self.lock();
        let index = match state.free.pop() {
            Some(index) => index,
            None => {
                state.slots.push(Slot::default());
                (state.slots.len() - 1) as u32
            }
        };
        let slot = &mut state.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.occupied = true;
        slot.visible = true;
        slot.writable = writable;
        ChannelId {
            index,
            generation: slot.generation,
        }
    }

    /// `id`'s `Closed` was yielded; its slot stays taken while it lingers.
    pub(crate) fn hide(&self, id: ChannelId) {
        let mut state = self.lock();
        if let Some(slot) = state.slots.get_mut(id.index as usize) {
            if slot.generation == id.generation {
                slot.visible = false;
            }
        }
    }

    /// The slot at `index` is empty again, for the next `allocate`.
    pub(crate) fn free(&self, index: u32) {
        let mut state = self.lock();
        let State { slots, free } = &mut *state;
        if let Some(slot) = slots.get_mut(index as usize) {
            if slot.occupied {
                slot.occupied = false;
                slot.visible = false;
                free.push(index);
            }
        }
    }

    /// Whether a handle may write to `id`: `Closed` once it is gone,
    /// `NotWritable` for a channel without a write side.
    pub(crate) fn check_writable(&self, id: ChannelId) -> Result<()> {
        let state = self.lock();
        match state.slots.get(id.index as usize) {
            Some(slot) if slot.generation == id.generation && slot.visible => {
                if slot.writable {
                    Ok(())
                } else {
                    Err(Error::NotWritable)
                }
            }
            _ => Err(Error::Closed),
        }
    }
}
