//! Graceful shutdown: one trigger (a signal, or a test), many listeners; before it, optionally, a
//! drain: the node keeps serving while `/readyz` answers `503`, so a load balancer takes it out of its
//! pool before it stops accepting connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Clone it into every server and long-lived task; [`Shutdown::wait`] resolves once shutdown begins.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
    receiver: watch::Receiver<bool>,
    draining: Arc<AtomicBool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self {
            sender: Arc::new(sender),
            receiver,
            draining: Arc::default(),
        }
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Whether the node is about to stop: it still serves, but should be sent no new traffic.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed) || self.is_triggered()
    }

    /// Marks the node as draining (see [`Shutdown::is_draining`]).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        // An error means every sender is gone, which also means: stop.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Triggers shutdown on SIGINT (Ctrl-C) or SIGTERM (systemd, Kubernetes), after draining for
    /// `drain` (zero: at once); a second signal while draining stops at once. The handlers are
    /// installed before this returns: a signal sent the moment the process says it is ready is
    /// handled, not fatal (installing them inside the spawned task lost that race under load).
    pub fn trigger_on_signals(&self, drain: Duration) {
        let shutdown = self.clone();
        let mut signals = Signals::install();
        tokio::spawn(async move {
            let name = signals.next().await;
            if !drain.is_zero() {
                shutdown.start_draining();
                tracing::info!(
                    ?drain,
                    "{name} received: draining (/readyz answers 503) before shutting down; another signal stops at once"
                );
                tokio::select! {
                    () = tokio::time::sleep(drain) => {}
                    name = signals.next() => tracing::info!("{name} received again"),
                }
            }
            tracing::info!("{name} received, shutting down");
            shutdown.trigger();
        });
    }
}

/// SIGINT and SIGTERM, each received as often as it comes.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind, name: &str| {
                signal(kind)
                    .map_err(|error| tracing::warn!(%error, "cannot listen for {name}"))
                    .ok()
            };
            Self {
                interrupt: install(SignalKind::interrupt(), "SIGINT"),
                terminate: install(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn one(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = one(&mut self.interrupt) => "SIGINT",
                () = one(&mut self.terminate) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
