//! Who is calling. Every request and every Socket.IO connection is made by exactly one principal.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A bot: may push data for, and receive events and commands of, its one account.
    Bot { token_id: i64, account: String },
    /// An integrator's API token (a console, another CRM): reads everything, pushes no bot data.
    Integrator { token_id: i64, name: String },
}

impl Principal {
    /// Whether this principal may write bot data for `account`.
    pub fn may_ingest_for(&self, account: &str) -> bool {
        matches!(self, Self::Bot { account: own, .. } if own == account)
    }

    /// The one account this principal is limited to, or `None` when it sees every account.
    pub fn account_scope(&self) -> Option<&str> {
        match self {
            Self::Bot { account, .. } => Some(account),
            Self::Integrator { .. } => None,
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
        };
        assert!(!integrator.may_ingest_for("acc1"));
        assert_eq!(integrator.account_scope(), None);
    }
}
