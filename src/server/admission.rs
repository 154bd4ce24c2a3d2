//! Who may open a connection, decided at accept time: a cap on all connections and on the
//! connections from one address (loopback exempt unless asked, as Ergo does). Each admitted
//! connection holds a [`Slot`]; dropping the last handle on it frees its place.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AdmissionPolicy {
    pub max_total: usize,
    pub max_per_ip: usize,
    /// Count loopback clients too (tests of the limit; a public server behind nothing).
    pub limit_loopback: bool,
}

#[derive(Debug)]
struct Counts {
    /// Under the same lock as the counts, so a reload's new limits apply from the next
    /// connection on; places already taken stay taken.
    policy: AdmissionPolicy,
    total: usize,
    /// Per address (IPv6 per /64): open connections, and refused ones still being told why.
    per_ip: HashMap<IpAddr, (usize, usize)>,
}

#[derive(Debug)]
pub(crate) struct ConnectionTable {
    counts: Mutex<Counts>,
    /// Woken when the last connection closes (graceful shutdown waits for it).
    empty: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Counts towards its address's limit.
    Counted(IpAddr),
    /// Loopback, exempt from the per-address limit.
    Exempt,
    /// Over its address's limit: served only to be told so, then closed.
    Refusing(IpAddr),
}

/// One admitted TCP connection's place in the table.
#[derive(Debug)]
pub(crate) struct Slot {
    table: Arc<ConnectionTable>,
    kind: Kind,
}

impl Slot {
    /// True when the connection is over its address's limit and must only be refused.
    pub fn is_refusal(&self) -> bool {
        matches!(self.kind, Kind::Refusing(_))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.table.lock();
        counts.total -= 1;
        let key = match self.kind {
            Kind::Counted(ip) | Kind::Refusing(ip) => Some(ip),
            Kind::Exempt => None,
        };
        if let Some(ip) = key
            && let Some(entry) = counts.per_ip.get_mut(&ip)
        {
            match self.kind {
                Kind::Refusing(_) => entry.1 -= 1,
                _ => entry.0 -= 1,
            }
            if *entry == (0, 0) {
                counts.per_ip.remove(&ip);
            }
        }
        if counts.total == 0 {
            self.table.empty.notify_waiters();
        }
    }
}

impl ConnectionTable {
    pub fn new(policy: AdmissionPolicy) -> Arc<ConnectionTable> {
        Arc::new(ConnectionTable {
            counts: Mutex::new(Counts {
                policy,
                total: 0,
                per_ip: HashMap::new(),
            }),
            empty: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every update is one statement.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection from `ip`, or `None` to drop it at once (the server is full,
    /// or this address is already being refused as often as it may connect).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = canonical(ip);
        let mut counts = self.lock();
        let policy = counts.policy;
        if counts.total >= policy.max_total {
            return None;
        }
        let kind = if ip.is_loopback() && !policy.limit_loopback {
            Kind::Exempt
        } else {
            let entry = counts.per_ip.entry(ip).or_default();
            if entry.0 < policy.max_per_ip {
                entry.0 += 1;
                Kind::Counted(ip)
            } else if entry.1 < policy.max_per_ip.max(1) {
                entry.1 += 1;
                Kind::Refusing(ip)
            } else {
                return None;
            }
        };
        counts.total += 1;
        Some(Slot {
            table: Arc::clone(self),
            kind,
        })
    }

    /// New limits (settings reloaded), for connections admitted from now on.
    pub fn set_policy(&self, policy: AdmissionPolicy) {
        self.lock().policy = policy;
    }

    pub fn total(&self) -> usize {
        self.lock().total
    }

    /// Waits until every slot is dropped, or `limit` passes; true if the table emptied.
    pub async fn wait_empty(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.total() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.total() == 0;
            }
        }
    }
}

/// The key an address is counted under: IPv4-mapped IPv6 as IPv4; other IPv6 by its /64,
/// since one host usually owns a whole /64.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None if v6.is_loopback() => ip,
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn table(max_total: usize, max_per_ip: usize, limit_loopback: bool) -> Arc<ConnectionTable> {
        ConnectionTable::new(AdmissionPolicy {
            max_total,
            max_per_ip,
            limit_loopback,
        })
    }

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8));

    #[test]
    fn per_address_limit_then_refusals_then_drops() {
        let t = table(100, 2, false);
        let a1 = t.admit(A).unwrap();
        let a2 = t.admit(A).unwrap();
        assert!(!a1.is_refusal() && !a2.is_refusal());
        let r1 = t.admit(A).unwrap();
        let r2 = t.admit(A).unwrap();
        assert!(r1.is_refusal() && r2.is_refusal(), "told why, then closed");
        assert!(t.admit(A).is_none(), "beyond that, dropped at once");
        assert!(
            !t.admit(B).unwrap().is_refusal(),
            "other addresses unaffected"
        );
        drop(a1);
        assert!(
            !t.admit(A).unwrap().is_refusal(),
            "a freed place can be reused"
        );
    }

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let t = table(100, 1, false);
        let held: Vec<_> = (0..5)
            .map(|_| t.admit(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap())
            .collect();
        assert!(held.iter().all(|s| !s.is_refusal()));
        let t = table(100, 1, true);
        let _first = t.admit(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert!(
            t.admit(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .unwrap()
                .is_refusal()
        );
    }

    #[test]
    fn total_limit_drops_and_counts_come_back() {
        let t = table(2, 10, false);
        let a = t.admit(A).unwrap();
        let b = t.admit(B).unwrap();
        assert!(t.admit(A).is_none());
        assert_eq!(t.total(), 2);
        drop((a, b));
        assert_eq!(t.total(), 0);
        assert!(t.lock().per_ip.is_empty(), "no entries left behind");
    }

    #[test]
    fn new_limits_apply_to_later_connections_and_keep_the_counts() {
        let t = table(10, 1, false);
        let a1 = t.admit(A).unwrap();
        assert!(t.admit(A).unwrap().is_refusal());
        t.set_policy(AdmissionPolicy {
            max_total: 10,
            max_per_ip: 3,
            limit_loopback: true,
        });
        let a2 = t.admit(A).unwrap();
        let a3 = t.admit(A).unwrap();
        assert!(!a2.is_refusal() && !a3.is_refusal(), "room for two more");
        assert!(t.admit(A).unwrap().is_refusal());
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let _lo = t.admit(lo).unwrap();
        t.set_policy(AdmissionPolicy {
            max_total: 2,
            max_per_ip: 1,
            limit_loopback: true,
        });
        assert!(t.admit(B).is_none(), "over the new total");
        assert!(!a1.is_refusal(), "connections already here stay");
        drop((a1, a2, a3));
        assert!(t.admit(lo).unwrap().is_refusal(), "loopback is counted now");
        assert!(
            !t.lock().per_ip.contains_key(&A),
            "counts came back to zero"
        );
    }

    #[test]
    fn ipv6_hosts_are_counted_per_64() {
        let t = table(100, 1, false);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _held = t.admit(one).unwrap();
        assert!(t.admit(same_64).unwrap().is_refusal());
        assert!(!t.admit(other_64).unwrap().is_refusal());
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        let _a = t.admit(A).unwrap();
        assert!(
            t.admit(mapped).unwrap().is_refusal(),
            "mapped IPv4 is that IPv4"
        );
    }

    #[tokio::test]
    async fn wait_empty_returns_when_the_last_slot_goes() {
        let t = table(10, 10, false);
        let slot = t.admit(A).unwrap();
        let waiter = {
            let t = Arc::clone(&t);
            tokio::spawn(async move { t.wait_empty(Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        drop(slot);
        assert!(waiter.await.unwrap());
        assert!(t.wait_empty(Duration::from_millis(1)).await);
    }
}
