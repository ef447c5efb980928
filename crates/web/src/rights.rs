//! Who may call an endpoint, said in its signature: each extractor here authenticates the caller (as
//! [`Authenticated`] does) and refuses with `403`, and the one message for that right, whoever lacks
//! it. A handler that takes `Admin(principal)` cannot forget to check.

use crate::{ApiError, Authenticated};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use std::marker::PhantomData;
use switchboard_domain::{AccountView, Principal};
use switchboard_storage::{ConversationView, StorageError, Store};

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

/// A console caller and the accounts they may see, read for each request so that a change of access
/// applies to the next one. What lies outside the view is answered as if it did not exist: an agent
/// learns nothing of a page they may not see, not even that it is there.
#[derive(Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub view: AccountView,
    store: Store,
}

impl Viewer {
    /// Refuses an account outside the view as unknown.
    pub fn account(&self, user_id_chat: &str) -> Result<(), ApiError> {
        if self.view.sees(user_id_chat) {
            Ok(())
        } else {
            Err(StorageError::UnknownAccount(user_id_chat.to_owned()).into())
        }
    }

    /// The conversation, if its account is in the view; unknown otherwise.
    pub async fn conversation(&self, id: i64) -> Result<ConversationView, ApiError> {
        let conversation = self.store.conversation(id).await?;
        if self.view.sees(&conversation.user_id_chat) {
            Ok(conversation)
        } else {
            Err(StorageError::UnknownConversation(id).into())
        }
    }

    /// Refuses a message of an account outside the view as unknown.
    pub async fn message(&self, id: i64) -> Result<(), ApiError> {
        let account = self.store.account_of_message(id).await?;
        if self.view.sees(&account) {
            Ok(())
        } else {
            Err(StorageError::UnknownMessage(id).into())
        }
    }

    /// Refuses a post of an account outside the view as unknown.
    pub async fn post(&self, id: i64) -> Result<(), ApiError> {
        let account = self.store.account_of_post(id).await?;
        if self.view.sees(&account) {
            Ok(())
        } else {
            Err(StorageError::UnknownPost(id).into())
        }
    }
}

impl<S> FromRequestParts<S> for Viewer
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Console(principal) = Console::from_request_parts(parts, state).await?;
        let store = Store::from_ref(state);
        let view = store.account_view(&principal).await?;
        Ok(Self {
            principal,
            view,
            store,
        })
    }
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
