//! A bound server: routes plus Socket.IO, on a listener that exists before it runs (tests use port 0).

use crate::{BindError, Shutdown};
use axum::Router;
use socketioxide::SocketIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Most packets queued for one Socket.IO client before its stream waits for it to catch up.
const SOCKET_BUFFER: usize = 1024;

/// A Socket.IO server configured as every role wants it.
pub fn socket_io() -> (socketioxide::layer::SocketIoLayer, SocketIo) {
    SocketIo::builder()
        .max_buffer_size(SOCKET_BUFFER)
        .build_layer()
}

/// Wraps a role's routes in what every role has: its Socket.IO endpoint, the body limit, CORS by
/// allowlist, and request tracing.
pub fn with_common_layers(
    routes: Router,
    socket_layer: socketioxide::layer::SocketIoLayer,
    cors_origins: &[String],
) -> Router {
    routes
        .fallback(not_found)
        .layer(socket_layer)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::json::BODY_LIMIT,
        ))
        .layer(crate::cors(cors_origins))
        .layer(crate::http_trace())
}

/// Any path no route takes: a JSON `404` naming it, like every other error.
async fn not_found(uri: axum::http::Uri) -> crate::ApiError {
    crate::ApiError::NotFound(format!(
        "no endpoint at {}; see docs/protocol.md",
        uri.path()
    ))
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    io: SocketIo,
}

impl Server {
    /// Binds `addr`; `flag` names the option that changes it, for the "port in use" message.
    pub async fn bind(
        addr: SocketAddr,
        flag: &str,
        router: Router,
        io: SocketIo,
    ) -> Result<Self, BindError> {
        let listener = crate::bind(addr, flag).await?;
        Ok(Self::from_listener(listener, router, io))
    }

    /// Serves on a listener bound already: a process starting several roles binds every port first,
    /// then builds routes that know the ports the others got.
    pub fn from_listener(listener: TcpListener, router: Router, io: SocketIo) -> Self {
        Self {
            listener,
            router,
            io,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` triggers: then closes Socket.IO sessions (clients resume elsewhere from
    /// their last event id) and lets in-flight requests finish, for at most `grace`.
    pub async fn run(self, shutdown: Shutdown, grace: Duration) -> std::io::Result<()> {
        let io = self.io.clone();
        let stop = shutdown.clone();
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            stop.wait().await;
            io.close().await;
        });
        let server = server.into_future();
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result,
            () = async { shutdown.wait().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
                Ok(())
            }
        }
    }
}
