//! Who is calling. Every request and every Socket.IO connection is made by exactly one principal.

use serde::Serialize;

crate::named_enum! {
    /// What a console user may do. Admins manage users, accounts and tokens; supervisors and agents
    /// work the inboxes (supervisors will get team views and reports).
    pub enum Role {
        Admin = "admin",
        Supervisor = "supervisor",
        Agent = "agent",
    }
}

/// The console's session cookie: HttpOnly, so page scripts (and injected ones) cannot read it. Read by
/// the HTTP side and by the Socket.IO handshake alike.
pub const SESSION_COOKIE: &str = "switchboard_session";

/// The value of the cookie `name` in these `Cookie` header values, if it is there and not empty.
pub fn cookie<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A person logged in to the console.
    User {
        user_id: i64,
        username: String,
        role: Role,
    },
    /// A bot: may push data for, and receive events and commands of, its one account.
    Bot { token_id: i64, account: String },
    /// An integrator's API token (a console, another CRM): reads everything, pushes no bot data.
    /// A `scoped` token was issued for some accounts: it sees those only, and administers nothing.
    Integrator {
        token_id: i64,
        name: String,
        scoped: bool,
    },
    /// A phone system's token: posts CTI events and reads the call center, nothing else. It sits in
    /// the webhook's URL, where it is more exposed than a header, so it grants as little as it can.
    PhoneSystem { token_id: i64, name: String },
}

impl Principal {
    /// The kind of caller, as the metrics label it: `user`, `bot`, `integrator` or `phone_system`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::Bot { .. } => "bot",
            Self::Integrator { .. } => "integrator",
            Self::PhoneSystem { .. } => "phone_system",
        }
    }

    /// Whether this principal may write bot data for `account`.
    pub fn may_ingest_for(&self, account: &str) -> bool {
        matches!(self, Self::Bot { account: own, .. } if own == account)
    }

    /// The one account this principal is limited to, or `None` when it sees every account.
    pub fn account_scope(&self) -> Option<&str> {
        match self {
            Self::Bot { account, .. } => Some(account),
            Self::User { .. } | Self::Integrator { .. } | Self::PhoneSystem { .. } => None,
        }
    }

    /// Admins, and integrators' unscoped tokens (made by admins for systems that manage the CRM).
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::User {
                role: Role::Admin,
                ..
            } | Self::Integrator { scoped: false, .. }
        )
    }

    /// People and integrations read inboxes and send; bots do not.
    pub fn works_inboxes(&self) -> bool {
        matches!(self, Self::User { .. } | Self::Integrator { .. })
    }

    /// Admins, supervisors and integrators act for any agent (answer for them, set their status);
    /// an agent acts only for themselves, and a token scoped to some pages runs no call center.
    pub fn supervises_agents(&self) -> bool {
        matches!(
            self,
            Self::User {
                role: Role::Admin | Role::Supervisor,
                ..
            } | Self::Integrator { scoped: false, .. }
        )
    }

    /// Phone systems post CTI events; so do integrators' tokens, which older set-ups put in the URL.
    pub fn posts_cti(&self) -> bool {
        matches!(self, Self::PhoneSystem { .. } | Self::Integrator { .. })
    }

    /// The console user behind a request, for "sent by" records.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_writes_only_for_its_account() {
        let bot = Principal::Bot {
            token_id: 1,
            account: "acc1".into(),
        };
        assert!(bot.may_ingest_for("acc1"));
        assert!(!bot.may_ingest_for("acc2"));
        let integrator = Principal::Integrator {
            token_id: 2,
            name: "crm".into(),
            scoped: false,
        };
        assert!(!integrator.may_ingest_for("acc1"));
        assert_eq!(integrator.account_scope(), None);
    }
}
