//! [`ChannelMap`]: per-channel state keyed by [`ChannelId`], in a dense
//! vector indexed by the id's slot: O(1) without hashing, the way a
//! poller's own slab is (a `HashMap` hashes the id on every event).

use std::fmt;

use super::ChannelId;

/// A map from [`ChannelId`] to `T` for per-connection state beside a
/// [`Poller`](crate::Poller): a vector indexed by the id's slot, so a
/// lookup is an index and a generation check, with no hashing. Ids reuse
/// slots, so memory follows the most channels registered at once.
///
/// # Examples
///
/// ```
/// use iochannels::{Channel, ChannelMap, Framing, Poller};
///
/// let mut poller = Poller::new(Framing::Lines);
/// let (channel, _peer) = Channel::test();
/// let id = poller.register(channel.framed(Framing::Lines));
/// let mut lines_seen: ChannelMap<usize> = ChannelMap::new();
/// lines_seen.insert(id, 0);
/// *lines_seen.get_mut(id).expect("inserted") += 1;
/// assert_eq!(lines_seen.get(id), Some(&1));
/// assert_eq!(lines_seen.remove(id), Some(1));
/// assert!(lines_seen.is_empty());
/// ```
pub struct ChannelMap<T> {
    slots: Vec<Option<(u32, T)>>,
    len: usize,
}

impl<T> ChannelMap<T> {
    /// An empty map.
    pub fn new() -> ChannelMap<T> {
        ChannelMap {
            slots: Vec::new(),
            len: 0,
        }
    }

    /// Sets the value for `id`; returns the value `id` had.
    pub fn insert(&mut self, id: ChannelId, value: T) -> Option<T> {
        let at = id.index as usize;
        if self.slots.len() <= at {
            self.slots.resize_with(at + 1, || None);
        }
        // A value of an older id in the same slot is dropped: that id is gone.
        let old = self.slots[at].replace((id.generation, value));
        match old {
            Some((generation, old)) if generation == id.generation => Some(old),
            Some(_) => None,
            None => {
                self.len += 1;
                None
            }
        }
    }

    /// The value for `id`.
    pub fn get(&self, id: ChannelId) -> Option<&T> {
        match self.slots.get(id.index as usize)? {
            Some((generation, value)) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// The value for `id`, to change.
    pub fn get_mut(&mut self, id: ChannelId) -> Option<&mut T> {
        match self.slots.get_mut(id.index as usize)? {
            Some((generation, value)) if *generation == id.generation => Some(value),
            _ => None,
        }
    }

    /// Takes the value for `id` out.
    pub fn remove(&mut self, id: ChannelId) -> Option<T> {
        let slot = self.slots.get_mut(id.index as usize)?;
        match slot {
            Some((generation, _)) if *generation == id.generation => {
                self.len -= 1;
                slot.take().map(|(_, value)| value)
            }
            _ => None,
        }
    }

    /// How many ids have a value.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no id has a value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes every value out, with its id.
    pub fn drain(&mut self) -> impl Iterator<Item = (ChannelId, T)> + '_ {
        self.len = 0;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(index, slot)| {
                let (generation, value) = slot.take()?;
                Some((
                    ChannelId {
                        index: index as u32,
                        generation,
                    },
                    value,
                ))
            })
    }
}

impl<T> Default for ChannelMap<T> {
    fn default() -> ChannelMap<T> {
        ChannelMap::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for ChannelMap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.slots.iter().enumerate().filter_map(|(index, slot)| {
                let (generation, value) = slot.as_ref()?;
                Some((
                    ChannelId {
                        index: index as u32,
                        generation: *generation,
                    },
                    value,
                ))
            }))
            .finish()
    }
}
