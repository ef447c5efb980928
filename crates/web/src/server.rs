//! A bound server: routes plus Socket.IO, on a listener that exists before it runs (tests use port 0).

use crate::client::ClientAddr;
use crate::limits::Limits;
use crate::ratelimit::{RateLimiter, rate_limit};
use crate::{BindError, Shutdown};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use axum::http::{Request, Uri};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use socketioxide::SocketIo;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use switchboard_domain::limits::{CountedSlots, Held};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Most packets queued for one Socket.IO client before its stream waits for it to catch up.
const SOCKET_BUFFER: usize = 1024;

/// Largest message a Socket.IO client may send over WebSocket, as over long-polling (engine.io's
/// `max_payload`): what clients send is small, and a larger frame is refused from its header, before
/// it is buffered.
pub const SOCKET_MAX_MESSAGE: usize = 100_000;

/// Bytes a WebSocket reads at once, allocated per connection for its life: what consoles send is small
/// (actions, acknowledgements), and a larger message still arrives whole, in several reads. engine.io's
/// default (4 KiB) was an eighth of an idle connection's memory.
const SOCKET_READ_BUFFER: usize = 1024;

/// A Socket.IO server configured as every role wants it.
pub fn socket_io() -> (socketioxide::layer::SocketIoLayer, SocketIo) {
    SocketIo::builder()
        .max_buffer_size(SOCKET_BUFFER)
        .ws_read_buffer_size(SOCKET_READ_BUFFER)
        .max_payload(SOCKET_MAX_MESSAGE as u64)
        .ws_max_message_size(SOCKET_MAX_MESSAGE)
        .ws_max_frame_size(SOCKET_MAX_MESSAGE)
        .build_layer()
}

/// Wraps a role's routes in what every role has: its Socket.IO endpoint, the body limit, rate limits,
/// CORS by allowlist, and request tracing.
pub fn with_common_layers(
    routes: Router,
    socket_layer: socketioxide::layer::SocketIoLayer,
    cors_origins: &[String],
) -> Router {
    routes
        .fallback(not_found)
        .layer(socket_layer)
        .layer(axum::middleware::from_fn(own_socket_request_head))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::json::BODY_LIMIT,
        ))
        // Inside CORS: a refusal carries the CORS headers the console needs to read it, and CORS
        // answers preflights before they are counted.
        .layer(axum::middleware::from_fn(rate_limit))
        .layer(crate::cors(cors_origins))
        .layer(crate::http_trace())
        // Outside the trace, whose span carries the id.
        .layer(axum::middleware::from_fn(crate::request_id::request_id))
}

/// Socket.IO keeps the head of the request that opened a session for the session's life. hyper parses
/// a head without copying it, so its headers and URI point into the connection's 8 KiB read buffer,
/// and every open socket kept that whole buffer alive: a quarter of an idle connection's memory
/// (measured with massif, see docs/benchmarks.md). A copy of the few bytes of the head lets it go.
async fn own_socket_request_head(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.uri().path().starts_with(SOCKET_PATH) {
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
                    HeaderValue::from_bytes(value.as_bytes()).ok()?,
                ))
            })
            .collect::<HeaderMap>();
        *request.headers_mut() = headers;
        if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
            *request.uri_mut() = uri;
        }
    }
    next.run(request).await
}

/// Where Socket.IO (engine.io) is served.
const SOCKET_PATH: &str = "/socket.io/";

/// Any path no route takes: a JSON `404` naming it (as the client asked for it), like every other
/// error.
async fn not_found(request: axum::extract::Request) -> crate::ApiError {
    crate::ApiError::NotFound(format!(
        "no endpoint at {}; see docs/protocol.md",
        crate::extract::redact_path(crate::versions::requested_path(&request))
    ))
}

pub struct Server {
    listener: TcpListener,
    router: Router,
    io: SocketIo,
    limits: Limits,
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
            limits: Limits::default(),
        }
    }

    /// Replaces the default limits (timeouts, connection caps, request rates).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` triggers: then stops accepting, closes Socket.IO sessions (clients
    /// resume elsewhere from their last event id) and lets in-flight requests finish, for at most
    /// `grace`.
    ///
    /// Our own accept loop rather than `axum::serve`, for what it cannot do: a deadline for a request's
    /// head (which also ends idle keep-alive connections), caps on connections per address and in all,
    /// and accepting on through descriptor exhaustion with a log line a minute instead of a second.
    pub async fn run(self, shutdown: Shutdown, grace: Duration) -> std::io::Result<()> {
        let Self {
            listener,
            router,
            io,
            limits,
        } = self;
        let limits = Arc::new(limits);
        let limiter = RateLimiter::new(limits.rates.clone());
        let router = router
            // Turns every handler into its final service once (as `into_make_service` does); served
            // as it is, axum would build the fallback again per request, and with it the Socket.IO
            // layer: a polling session would be unknown to the engine of the next request.
            .with_state(());
        let slots = ConnectionSlots::new(Arc::clone(&limits));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(MAX_HEAD_BYTES);
        // Every connection task holds a clone; when all are gone, every connection has finished.
        let (in_flight, mut all_finished) = tokio::sync::mpsc::channel::<()>(1);
        let mut accept_errors = AcceptErrors::default();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_errors.handle(error).await;
                        continue;
                    }
                },
                () = shutdown.wait() => break,
            };
            let Some(slot) = slots.admit(peer.ip()) else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (limits, limiter) = (Arc::clone(&limits), Arc::clone(&limiter));
            let draining = shutdown.clone();
            let service = router
                .clone()
                .map_request(move |request: Request<Incoming>| {
                    let mut request = crate::versions::route_unversioned(request);
                    if draining.is_draining() {
                        request.extensions_mut().insert(crate::health::Draining);
                    }
                    let client = ClientAddr::resolve(peer.ip(), request.headers(), &limits);
                    let mut request =
                        request.map(|body| DeadlineBody::new(body, limits.body_timeout));
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(client);
                    request.extensions_mut().insert(Arc::clone(&limiter));
                    request
                });
            let connection = http
                .serve_connection(
                    TokioIo::new(CountedStream {
                        stream,
                        _slot: slot,
                    }),
                    TowerToHyperService::new(service),
                )
                .with_upgrades();
            let stop = shutdown.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let _in_flight = in_flight;
                tokio::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = stop.wait() => {
                        // Finish the request in progress, then close.
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        drop(in_flight);
        io.close().await;
        tokio::select! {
            _ = all_finished.recv() => {},
            () = tokio::time::sleep(grace) => {
                tracing::warn!(?grace, "in-flight requests did not finish in time; stopping anyway");
            }
        }
        Ok(())
    }
}

/// A request body that must arrive whole by a deadline, however it trickles in (a timeout between
/// chunks would let one byte every few seconds hold the request forever).
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(
                        Err("the request body did not arrive in time".into()),
                    ));
                }
                Poll::Pending
            }
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Largest request head (request line and headers) read.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How often running out of descriptors is logged while it lasts.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

/// Accept errors, logged at most once a minute while they last.
#[derive(Default)]
struct AcceptErrors {
    last_logged: Option<tokio::time::Instant>,
    since_logged: u64,
}

impl AcceptErrors {
    async fn handle(&mut self, error: std::io::Error) {
        use std::io::ErrorKind as K;
        // The client gave up between connecting and our accept: nothing to do.
        if matches!(
            error.kind(),
            K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
        ) {
            return;
        }
        self.since_logged += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_LOG_EVERY)
        {
            tracing::error!(
                %error,
                times = self.since_logged,
                "cannot accept connections (out of file descriptors?); still trying"
            );
            self.last_logged = Some(now);
            self.since_logged = 0;
        }
        // The connection waits in the backlog; try again when a descriptor may have been freed.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connections open in this process, across all its servers: the descriptor budget is one.
static OPEN_IN_PROCESS: std::sync::LazyLock<Arc<AtomicUsize>> =
    std::sync::LazyLock::new(Default::default);

/// Connections open now, in all and per address.
struct ConnectionSlots {
    limits: Arc<Limits>,
    /// This server's own count when `max_connections` was set; the process's otherwise.
    total: Arc<AtomicUsize>,
    max_total: usize,
    per_address: Arc<CountedSlots<IpAddr>>,
    refusals: AtomicU64,
}

impl ConnectionSlots {
    fn new(limits: Arc<Limits>) -> Self {
        let (total, max_total) = if limits.max_connections == 0 {
            (
                Arc::clone(&OPEN_IN_PROCESS),
                crate::limits::raise_descriptor_limit(),
            )
        } else {
            (Arc::default(), limits.max_connections)
        };
        Self {
            limits,
            total,
            max_total,
            per_address: Arc::default(),
            refusals: AtomicU64::new(0),
        }
    }

    /// A slot for a connection from `ip`, or `None` (the connection is closed at once) past a cap.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let counted = !self.limits.is_trusted_proxy(ip);
        let ip = crate::limits::limit_key(ip);
        let total = self.total.fetch_add(1, Ordering::Relaxed);
        let total_slot = TotalSlot(Arc::clone(&self.total));
        let address = if counted {
            self.per_address
                .take(ip, self.limits.connections_per_address)
                .map(Some)
        } else {
            Some(None)
        };
        match address {
            Some(address) if total < self.max_total => Some(Slot {
                _total: total_slot,
                _address: address,
            }),
            _ => {
                let refusals = self.refusals.fetch_add(1, Ordering::Relaxed);
                // One line per thousand refusals: a flood must not flood the log.
                if refusals.is_multiple_of(1000) {
                    tracing::warn!(client = %ip, open = total, from_client = self.per_address.held(&ip), refused = refusals + 1, "connection refused: too many open");
                }
                None
            }
        }
    }
}

/// A connection's place in the total, given back on drop.
struct TotalSlot(Arc<AtomicUsize>);

impl Drop for TotalSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's places in [`ConnectionSlots`], given back when the connection (or the WebSocket it
/// was upgraded to) closes.
struct Slot {
    _total: TotalSlot,
    _address: Option<Held<IpAddr>>,
}

/// A TCP stream that holds its connection's slot for as long as it lives: an upgraded WebSocket
/// keeps the stream, so it keeps counting.
struct CountedStream {
    stream: TcpStream,
    _slot: Slot,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
