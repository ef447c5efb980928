//! Binding the roles: each role's state and router on its bound listener, with its limits. One small
//! function per role, so the way a role is assembled can change in one place.

use super::{Listener, browser_origins};
use crate::config::Settings;
use crate::role::Role;
use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use switchboard_console::Endpoint;
use switchboard_realtime::EventFeed;
use switchboard_storage::Store;
use switchboard_web::Server;

/// What every role is built from.
pub struct RoleContext<'a> {
    pub store: &'a Store,
    pub feed: &'a EventFeed,
    pub settings: &'a Settings,
    /// The configured origins, and the console's own.
    pub cors_origins: Vec<String>,
    /// The ports the receiver and the sender were bound on in this process, if they were.
    receiver_port: Option<u16>,
    sender_port: Option<u16>,
}

impl<'a> RoleContext<'a> {
    /// The console served by the call center calls the receiver and the sender from its own origin:
    /// the port it was bound on here, or the one configured for it when it runs in another process.
    pub fn new(
        store: &'a Store,
        feed: &'a EventFeed,
        settings: &'a Settings,
        listeners: &[Listener],
    ) -> Self {
        let bound = |role: Role| listeners.iter().find(|l| l.role == role).map(|l| l.addr);
        let console_at = bound(Role::CallCenter).unwrap_or(settings.role(Role::CallCenter).listen);
        let mut cors_origins = settings.cors_origins.clone();
        for origin in browser_origins(console_at) {
            if !cors_origins.contains(&origin) {
                cors_origins.push(origin);
            }
        }
        Self {
            store,
            feed,
            settings,
            cors_origins,
            receiver_port: bound(Role::Receiver).map(|addr| addr.port()),
            sender_port: bound(Role::Sender).map(|addr| addr.port()),
        }
    }
}

/// Builds `listener`'s role and its server, with the role's limits.
pub async fn bind_role(
    listener: Listener,
    context: &RoleContext<'_>,
) -> Result<(Role, SocketAddr, Server)> {
    let Listener {
        role,
        listener,
        addr,
    } = listener;
    let server = match role {
        Role::Receiver => receiver(listener, context),
        Role::Sender => sender(listener, context).await?,
        Role::CallCenter => callcenter(listener, context).await?,
    };
    Ok((
        role,
        addr,
        server.with_limits(context.settings.role(role).limits.clone()),
    ))
}

fn receiver(listener: tokio::net::TcpListener, context: &RoleContext<'_>) -> Server {
    let state = switchboard_receiver::AppState {
        store: context.store.clone(),
        feed: context.feed.clone(),
    };
    let (router, io) = switchboard_receiver::router(state, &context.cors_origins);
    Server::from_listener(listener, router, io)
}

async fn sender(listener: tokio::net::TcpListener, context: &RoleContext<'_>) -> Result<Server> {
    let settings = context.settings;
    let cipher = super::load_cipher(&settings.encryption_key, context.store).await?;
    super::ensure_admin(context.store, settings.admin_password.as_deref()).await?;
    let state = switchboard_sender::AppState::new(
        context.store.clone(),
        context.feed.clone(),
        cipher,
        settings.sender.clone(),
    );
    let (router, io) = switchboard_sender::router(state, &context.cors_origins);
    Ok(Server::from_listener(listener, router, io))
}

async fn callcenter(
    listener: tokio::net::TcpListener,
    context: &RoleContext<'_>,
) -> Result<Server> {
    let mut options = context.settings.callcenter.clone();
    // A role in this process is where it was bound, which may differ from what was configured.
    for (endpoint, port) in [
        (&mut options.console.receiver, context.receiver_port),
        (&mut options.console.sender, context.sender_port),
    ] {
        if let (Endpoint::Port(configured), Some(port)) = (endpoint, port) {
            *configured = port;
        }
    }
    let state = switchboard_callcenter::AppState::start(
        context.store.clone(),
        context.feed.clone(),
        options,
    )
    .await
    .context("cannot start the call center")?;
    let (router, io) = switchboard_callcenter::router(state, &context.cors_origins);
    Ok(Server::from_listener(listener, router, io))
}
