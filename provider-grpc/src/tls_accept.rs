//! Accepting connections on the TLS gRPC port so that one peer cannot lock out another.
//!
//! Every accepted connection holds a handshake slot until its TLS handshake ends. A peer
//! that opens connections and never sends a byte would otherwise fill every slot and keep
//! cluster-autoscaler out for as long as it keeps doing so. Three rules stop that: a
//! connection must send its first byte within [`FIRST_BYTE_TIMEOUT`]; one IP address holds
//! at most [`MAX_HANDSHAKES_PER_PEER`] slots; and when the slots (of the peer or of all)
//! are full, the oldest connection that has not sent a byte yet makes room for the new one.
//! A client that is really handshaking is never closed to make room. Closures for room
//! are logged once per [`CLOSED_LOG_EVERY`] with a count, not once each.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::Stream;
use kamatera_nodegroups::log_gate::LogGate;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::tls::{CurrentConfig, HANDSHAKE_TIMEOUT, MAX_PENDING_HANDSHAKES};

/// A connection that has not sent its first byte by then is closed. A TLS client sends its
/// ClientHello right after connecting, so even over a slow link this is generous.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(2);
/// Handshakes in progress from one IP address. cluster-autoscaler opens one connection
/// (and a few while reconnecting), so 32 leaves it room; eight addresses are needed to fill
/// the [`MAX_PENDING_HANDSHAKES`] slots of all, and clients behind one NAT are still served.
pub const MAX_HANDSHAKES_PER_PEER: usize = 32;
/// One warning line per reason at most this often, with the number held back.
pub const CLOSED_LOG_EVERY: Duration = Duration::from_secs(60);

/// The limits the accept loop applies; [`AcceptLimits::default`] is what the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLimits {
    /// Time from accept to the first byte.
    pub first_byte: Duration,
    /// Time from accept to the end of the handshake.
    pub handshake: Duration,
    /// Handshakes in progress from one IP address.
    pub per_peer: usize,
    /// Handshakes in progress at once.
    pub total: usize,
    /// How often a closure reason is logged.
    pub log_every: Duration,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        Self {
            first_byte: FIRST_BYTE_TIMEOUT,
            handshake: HANDSHAKE_TIMEOUT,
            per_peer: MAX_HANDSHAKES_PER_PEER,
            total: MAX_PENDING_HANDSHAKES,
            log_every: CLOSED_LOG_EVERY,
        }
    }
}

/// Why a connection was closed before its handshake, to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Closed {
    /// The new connection's address holds all its slots, none of them silent.
    PeerFull,
    /// The oldest silent connection of the same address made room.
    PeerSilentEvicted,
    /// All slots are held, none of them silent.
    AllFull,
    /// The oldest silent connection of any address made room.
    SilentEvicted,
}

impl Closed {
    fn describe(self) -> &'static str {
        match self {
            Closed::PeerFull => {
                "too many TLS handshakes in progress from one address; new connection closed"
            }
            Closed::PeerSilentEvicted => {
                "too many TLS handshakes in progress from one address; its oldest silent connection closed"
            }
            Closed::AllFull => "too many TLS handshakes in progress; new connection closed",
            Closed::SilentEvicted => {
                "too many TLS handshakes in progress; the oldest silent connection closed"
            }
        }
    }
}

/// One handshake in progress.
#[derive(Debug)]
struct Pending {
    peer: IpAddr,
    /// No byte received yet.
    silent: bool,
    /// Cancelled when it is closed to make room.
    close: CancellationToken,
}

/// The handshakes in progress, oldest first.
#[derive(Debug)]
struct Handshakes {
    per_peer_limit: usize,
    total_limit: usize,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    per_peer: HashMap<IpAddr, usize>,
}

/// A connection let in: its slot id, the token that closes it, and whom it displaced.
#[derive(Debug)]
struct Admitted {
    id: u64,
    close: CancellationToken,
    displaced: Option<(Closed, IpAddr)>,
}

impl Handshakes {
    fn new(limits: &AcceptLimits) -> Self {
        Self {
            per_peer_limit: limits.per_peer,
            total_limit: limits.total,
            next_id: 0,
            pending: BTreeMap::new(),
            per_peer: HashMap::new(),
        }
    }

    /// Gives `peer` a slot, closing the oldest silent handshake if the limits are reached;
    /// the reason when there is no room for it.
    fn admit(&mut self, peer: IpAddr) -> Result<Admitted, Closed> {
        let mut displaced = None;
        if self.per_peer.get(&peer).copied().unwrap_or(0) >= self.per_peer_limit {
            let victim = self
                .oldest_silent(|p| p.peer == peer)
                .ok_or(Closed::PeerFull)?;
            self.close(victim);
            displaced = Some((Closed::PeerSilentEvicted, peer));
        } else if self.pending.len() >= self.total_limit {
            let victim = self.oldest_silent(|_| true).ok_or(Closed::AllFull)?;
            let victim_peer = self.close(victim);
            displaced = victim_peer.map(|p| (Closed::SilentEvicted, p));
        }
        let id = self.next_id;
        self.next_id += 1;
        let close = CancellationToken::new();
        self.pending.insert(
            id,
            Pending {
                peer,
                silent: true,
                close: close.clone(),
            },
        );
        *self.per_peer.entry(peer).or_insert(0) += 1;
        Ok(Admitted {
            id,
            close,
            displaced,
        })
    }

    fn oldest_silent(&self, filter: impl Fn(&Pending) -> bool) -> Option<u64> {
        self.pending
            .iter()
            .find(|(_, p)| p.silent && filter(p))
            .map(|(id, _)| *id)
    }

    /// Closes a handshake to make room; its peer.
    fn close(&mut self, id: u64) -> Option<IpAddr> {
        let pending = self.finish(id)?;
        pending.close.cancel();
        Some(pending.peer)
    }

    /// The handshake sent its first byte: it is no longer closed to make room.
    fn spoke(&mut self, id: u64) {
        if let Some(pending) = self.pending.get_mut(&id) {
            pending.silent = false;
        }
    }

    /// Frees the slot (if it was not freed already).
    fn finish(&mut self, id: u64) -> Option<Pending> {
        let pending = self.pending.remove(&id)?;
        if let Some(count) = self.per_peer.get_mut(&pending.peer) {
            *count -= 1;
            if *count == 0 {
                self.per_peer.remove(&pending.peer);
            }
        }
        Some(pending)
    }
}

type Shared = Arc<Mutex<Handshakes>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Handshakes> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees its slot when the handshake task ends, however it ends.
struct Slot {
    shared: Shared,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared).finish(self.id);
    }
}

/// Logs a closure for room, at most once per interval per reason.
fn log_closed(gate: &mut LogGate<Closed>, reason: Closed, peer: IpAddr) {
    if let Some(held_back) = gate.admit(reason, Instant::now()) {
        tracing::warn!(
            %peer,
            closed_since_last_warning = held_back,
            "{}",
            reason.describe()
        );
    }
}

/// Accepts TCP connections on `listener` and yields those that finish a TLS handshake with
/// the [`CurrentConfig`] of the moment, under `limits` (see the module text). Each handshake
/// runs in its own task, so a client that stalls holds up no one else. Ends when `cancel`
/// fires.
pub fn incoming(
    listener: TcpListener,
    current: CurrentConfig,
    cancel: CancellationToken,
    limits: AcceptLimits,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
    let (sender, mut receiver) = mpsc::channel(64);
    let shared: Shared = Arc::new(Mutex::new(Handshakes::new(&limits)));
    tokio::spawn(async move {
        let mut gate = LogGate::new(limits.log_every);
        loop {
            let accepted = tokio::select! {
                () = cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a gRPC connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let admitted = lock(&shared).admit(peer.ip());
            let admitted = match admitted {
                Ok(admitted) => admitted,
                Err(reason) => {
                    log_closed(&mut gate, reason, peer.ip());
                    continue;
                }
            };
            if let Some((reason, displaced)) = admitted.displaced {
                log_closed(&mut gate, reason, displaced);
            }
            // Answers of a few KiB would otherwise wait for the client's delayed ACK.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
            }
            let slot = Slot {
                shared: shared.clone(),
                id: admitted.id,
            };
            let acceptor = TlsAcceptor::from(current.get());
            let sender = sender.clone();
            tokio::spawn(async move {
                if let Some(stream) =
                    handshake(tcp, peer, acceptor, slot, admitted.close, limits).await
                {
                    // The server is gone when nobody receives: nothing to do.
                    let _ = sender.send(Ok(stream)).await;
                }
            });
        }
    });
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Waits for the first byte, then handshakes; `None` when the connection is dropped.
async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    slot: Slot,
    close: CancellationToken,
    limits: AcceptLimits,
) -> Option<TlsStream<TcpStream>> {
    let started = Instant::now();
    let mut first = [0u8; 1];
    tokio::select! {
        () = close.cancelled() => {
            tracing::debug!(%peer, "silent connection closed to make room");
            return None;
        }
        peeked = tokio::time::timeout(limits.first_byte, tcp.peek(&mut first)) => match peeked {
            Ok(Ok(0)) => return None,
            Ok(Ok(_)) => lock(&slot.shared).spoke(slot.id),
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "connection failed before its TLS handshake");
                return None;
            }
            Err(_) => {
                // Harms no one any more: such connections are closed first when room is needed.
                tracing::debug!(%peer, "no TLS byte in time; connection closed");
                return None;
            }
        },
    }
    let left = limits.handshake.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            drop(slot);
            Some(stream)
        }
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_peer: usize, total: usize) -> AcceptLimits {
        AcceptLimits {
            per_peer,
            total,
            ..AcceptLimits::default()
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_peer_at_its_cap_loses_its_oldest_silent_handshake_or_is_refused() {
        let mut handshakes = Handshakes::new(&limits(2, 10));
        let first = handshakes.admit(ip(1)).unwrap();
        let second = handshakes.admit(ip(1)).unwrap();
        handshakes.admit(ip(2)).unwrap();
        let third = handshakes.admit(ip(1)).unwrap();
        assert_eq!(third.displaced, Some((Closed::PeerSilentEvicted, ip(1))));
        assert!(
            first.close.is_cancelled(),
            "the oldest silent one is closed"
        );
        assert!(!second.close.is_cancelled());

        handshakes.spoke(second.id);
        handshakes.spoke(third.id);
        assert_eq!(handshakes.admit(ip(1)).unwrap_err(), Closed::PeerFull);
        // Others are not affected by that peer's cap.
        assert!(handshakes.admit(ip(3)).is_ok());
        // A slot freed is usable again.
        handshakes.finish(second.id);
        assert!(handshakes.admit(ip(1)).is_ok());
    }

    #[test]
    fn full_slots_close_the_oldest_silent_handshake_of_anyone() {
        let mut handshakes = Handshakes::new(&limits(10, 3));
        let talking = handshakes.admit(ip(1)).unwrap();
        handshakes.spoke(talking.id);
        let silent = handshakes.admit(ip(2)).unwrap();
        let younger = handshakes.admit(ip(3)).unwrap();
        let newcomer = handshakes.admit(ip(4)).unwrap();
        assert_eq!(newcomer.displaced, Some((Closed::SilentEvicted, ip(2))));
        assert!(silent.close.is_cancelled());
        assert!(!talking.close.is_cancelled() && !younger.close.is_cancelled());
        assert_eq!(handshakes.pending.len(), 3);
        // The evicted task's own cleanup finds its slot already freed.
        assert!(handshakes.finish(silent.id).is_none());
        assert_eq!(handshakes.pending.len(), 3);

        handshakes.spoke(younger.id);
        handshakes.spoke(newcomer.id);
        assert_eq!(handshakes.admit(ip(5)).unwrap_err(), Closed::AllFull);
        assert!(
            !talking.close.is_cancelled(),
            "a talking client is never closed"
        );
        assert_eq!(handshakes.per_peer.get(&ip(2)), None);
    }
}
