//! The hosts a request already tried, so a retry goes elsewhere (Envoy's
//! `envoy.retry_host_predicates.previous_hosts`).
//!
//! A retry sent to the host that just failed usually fails again. The
//! picker is asked to skip the hosts recorded here; it falls back to them
//! when nothing else is left. The list is a fixed inline array of the most
//! recent [`PreviousHosts::CAPACITY`] hosts, so a request that succeeds at
//! once allocates nothing.

use std::sync::Arc;

use crate::lb::EndpointSlot;

/// The identity of an endpoint within one request's snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub u64);

impl HostId {
    /// The identity of a slot: its address, stable while the snapshot
    /// that holds it is alive (which a request guarantees).
    pub fn of(slot: &Arc<EndpointSlot>) -> Self {
        Self(Arc::as_ptr(slot) as usize as u64)
    }
}

/// The most recent hosts tried (in order until full, then the oldest is
/// overwritten).
#[derive(Debug, Clone, Copy, Default)]
pub struct PreviousHosts {
    hosts: [HostId; Self::CAPACITY],
    len: u8,
    /// The slot the next host overwrites once the array is full.
    next: u8,
}

impl PreviousHosts {
    /// How many hosts are remembered.
    pub const CAPACITY: usize = 8;

    /// Records a host (a host already recorded is not repeated).
    pub fn record(&mut self, host: HostId) {
        if self.contains(host) {
            return;
        }
        if usize::from(self.len) < Self::CAPACITY {
            self.hosts[usize::from(self.len)] = host;
            self.len += 1;
        } else {
            self.hosts[usize::from(self.next)] = host;
            self.next = (self.next + 1) % Self::CAPACITY as u8;
        }
    }

    /// The recorded hosts.
    pub fn as_slice(&self) -> &[HostId] {
        &self.hosts[..usize::from(self.len)]
    }

    /// Whether `host` was recorded.
    pub fn contains(&self, host: HostId) -> bool {
        self.as_slice().contains(&host)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_distinct_hosts_in_order() {
        let mut hosts = PreviousHosts::default();
        assert!(hosts.is_empty());
        for id in [3, 1, 3, 2] {
            hosts.record(HostId(id));
        }
        assert_eq!(hosts.as_slice(), [HostId(3), HostId(1), HostId(2)]);
        assert!(hosts.contains(HostId(1)) && !hosts.contains(HostId(4)));
    }

    #[test]
    fn keeps_the_most_recent_when_full() {
        let mut hosts = PreviousHosts::default();
        for id in 0..(PreviousHosts::CAPACITY as u64 + 3) {
            hosts.record(HostId(id));
        }
        assert_eq!(hosts.as_slice().len(), PreviousHosts::CAPACITY);
        for old in 0..3 {
            assert!(!hosts.contains(HostId(old)));
        }
        for recent in 3..(PreviousHosts::CAPACITY as u64 + 3) {
            assert!(hosts.contains(HostId(recent)));
        }
    }

    #[test]
    fn slot_identity_differs_per_slot() {
        let slots = crate::lb::test_slots(&[1, 1]);
        assert_eq!(HostId::of(&slots[0]), HostId::of(&slots[0].clone()));
        assert_ne!(HostId::of(&slots[0]), HostId::of(&slots[1]));
    }
}
