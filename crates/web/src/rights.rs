//! Who may call an endpoint, said in its signature: each extractor here authenticates the caller (as
//! [`Authenticated`] does) and refuses with `403`, and the one message for that right, whoever lacks
//! it. A handler that takes `Admin(principal)` cannot forget to check.

use crate::{ApiError, Authenticated};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use std::marker::PhantomData;
use switchboard_domain::Principal;
use switchboard_storage::Store;

/// The caller, if `allowed`; else `403` with `refusal`.
async fn principal_with<S>(
    parts: &mut Parts,
    state: &S,
    allowed: fn(&Principal) -> bool,
    refusal: &str,
) -> Result<Principal, ApiError>
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
    if allowed(&principal) {
        Ok(principal)
    } else {
        Err(ApiError::Forbidden(refusal.to_owned()))
    }
}

macro_rules! rights {
    ($($(#[$doc:meta])* $name:ident: $allowed:expr, $refusal:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Principal);

        impl<S> FromRequestParts<S> for $name
        where
            S: Send + Sync,
            Store: FromRef<S>,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                principal_with(parts, state, $allowed, $refusal).await.map(Self)
            }
        }
    )*};
}

/// People and integrations use the console APIs; a bot token there is a mistake worth naming.
const CONSOLE_ONLY: &str = "bot tokens are for the bots' API only; use a login or an API token";

rights! {
    /// A console user (any role) or an integrator's token: who works the inboxes.
    Console: Principal::works_inboxes, CONSOLE_ONLY;
    /// A console, or the phone system, which routes calls with the call center's reads (agents'
    /// status, the call log).
    CallCenterReader: |p| matches!(p, Principal::PhoneSystem { .. }) || p.works_inboxes(), CONSOLE_ONLY;
    /// Who may act for any agent and change the call center's set-up: supervisors, admins, integrators.
    Supervisor: Principal::supervises_agents, "only a supervisor or an admin may do this";
    /// Who administers users, accounts and tokens: admins and integrators' tokens.
    Admin: Principal::is_admin, "only an admin may do this";
}

/// What an endpoint only bots may call tells anyone else who calls it (each says why in its own words).
pub trait BotsOnly {
    const REFUSAL: &'static str;
}

/// A bot token's caller: the one account it acts for. `R` is the endpoint's [`BotsOnly`] refusal.
#[derive(Debug, Clone)]
pub struct Bot<R> {
    pub token_id: i64,
    pub account: String,
    endpoint: PhantomData<fn() -> R>,
}

impl<R> Bot<R> {
    /// Whether this bot may write for `account` (what a body names): only for its own.
    pub fn may_write_for(&self, account: &str) -> Result<(), ApiError> {
        if self.account == account {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this bot's token is for account `{}`; it cannot write for `{account}`",
                self.account
            )))
        }
    }
}

impl<S, R> FromRequestParts<S> for Bot<R>
where
    S: Send + Sync,
    Store: FromRef<S>,
    R: BotsOnly,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        match principal {
            Principal::Bot { token_id, account } => Ok(Self {
                token_id,
                account,
                endpoint: PhantomData,
            }),
            Principal::User { .. }
            | Principal::Integrator { .. }
            | Principal::PhoneSystem { .. } => Err(ApiError::Forbidden(R::REFUSAL.to_owned())),
        }
    }
}
