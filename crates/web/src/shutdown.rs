//! Graceful shutdown: one trigger (a signal, or a test), many listeners.

use tokio::sync::watch;

/// Clone it into every server and long-lived task; [`Shutdown::wait`] resolves once shutdown begins.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
    receiver: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self {
            sender: std::sync::Arc::new(sender),
            receiver,
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

    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        // An error means every sender is gone, which also means: stop.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Triggers shutdown on SIGINT (Ctrl-C) or SIGTERM (systemd, Kubernetes). The handlers are installed
    /// before this returns: a signal sent the moment the process says it is ready is handled, not fatal
    /// (installing them inside the spawned task lost that race under load).
    pub fn trigger_on_signals(&self) {
        let shutdown = self.clone();
        #[cfg(unix)]
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        #[cfg(unix)]
        let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
        tokio::spawn(async move {
            #[cfg(unix)]
            let (ctrl_c, terminate) = {
                let wait = |signal: std::io::Result<tokio::signal::unix::Signal>,
                            name: &'static str| async move {
                    match signal {
                        Ok(mut signal) => {
                            signal.recv().await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot listen for {name}");
                            std::future::pending::<()>().await;
                        }
                    }
                };
                (wait(interrupt, "SIGINT"), wait(terminate, "SIGTERM"))
            };
            #[cfg(not(unix))]
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
                _ = terminate => tracing::info!("SIGTERM received, shutting down"),
            }
            shutdown.trigger();
        });
    }
}
