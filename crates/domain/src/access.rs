//! Who may see which Facebook account. An account nobody restricted is seen by every user (as before
//! access existed); once an admin gives it an access list, agents and supervisors see it only through
//! that list, directly or through a team. Admins and unscoped API tokens see everything; a bot sees its
//! own account; a scoped API token sees the accounts it was issued for.

use crate::validation;
use crate::{TeamId, UserId, ValidationError};
use serde::Deserialize;
use std::collections::BTreeSet;

/// The accounts a caller may see, by `user_id_chat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountView {
    All,
    /// Only these accounts (a bot's own, a scoped token's).
    Only(BTreeSet<String>),
    /// Every account but these (restricted ones the user is not on the list of). Held this way so
    /// that an account created after the view was read is seen, as unrestricted accounts are.
    Except(BTreeSet<String>),
}

impl AccountView {
    pub fn sees(&self, account: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(accounts) => accounts.contains(account),
            Self::Except(hidden) => !hidden.contains(account),
        }
    }

    pub fn sees_all(&self) -> bool {
        match self {
            Self::All => true,
            Self::Only(_) => false,
            Self::Except(hidden) => hidden.is_empty(),
        }
    }
}

/// Most users, or teams, on one account's list or in one team.
pub const MAX_GRANTEES: usize = 1_000;
/// Longest team name, in characters.
pub const MAX_TEAM_NAME_CHARS: usize = 80;

/// Body of `PUT /api/fb_accounts/{user_id_chat}/access`: who may see the account. Both lists empty
/// (or an empty body) lift the restriction: everyone sees the account again.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessIn {
    #[serde(default)]
    #[schema(value_type = Vec<i64>, example = json!([3, 4]))]
    pub user_ids: Vec<UserId>,
    #[serde(default)]
    #[schema(value_type = Vec<i64>, example = json!([1]))]
    pub team_ids: Vec<TeamId>,
}

/// An account's access list, checked: distinct ids, sorted. `None` when the account is unrestricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    pub user_ids: Vec<i64>,
    pub team_ids: Vec<i64>,
}

impl AccessIn {
    pub fn validate(self) -> Result<Option<AccessList>, ValidationError> {
        let user_ids = distinct("user_ids", self.user_ids.iter().map(|id| id.get()))?;
        let team_ids = distinct("team_ids", self.team_ids.iter().map(|id| id.get()))?;
        if user_ids.is_empty() && team_ids.is_empty() {
            return Ok(None);
        }
        Ok(Some(AccessList { user_ids, team_ids }))
    }
}

fn distinct(field: &str, ids: impl Iterator<Item = i64>) -> Result<Vec<i64>, ValidationError> {
    let ids: BTreeSet<i64> = ids.collect();
    if ids.first().is_some_and(|first| *first <= 0) {
        return Err(ValidationError::new(field, "ids are positive integers"));
    }
    if ids.len() > MAX_GRANTEES {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_GRANTEES} ids"),
        ));
    }
    Ok(ids.into_iter().collect())
}

/// Body of `POST /api/teams` and `PATCH /api/teams/{id}` (where every field is optional).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamIn {
    #[schema(example = "Ca sáng")]
    pub name: Option<String>,
    /// The team's members; replaces the list when given.
    #[schema(value_type = Option<Vec<i64>>, example = json!([3, 4]))]
    pub member_ids: Option<Vec<UserId>>,
}

/// A team's fields to store, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub member_ids: Option<Vec<i64>>,
}

impl TeamIn {
    /// `creating`: a new team needs a name.
    pub fn validate(self, creating: bool) -> Result<TeamChanges, ValidationError> {
        let name = match self.name {
            Some(name) => {
                let name = validation::name("name", &name, MAX_TEAM_NAME_CHARS)?;
                if name.is_empty() {
                    return Err(ValidationError::new("name", "must not be empty"));
                }
                Some(name)
            }
            None if creating => return Err(ValidationError::new("name", "a team needs a name")),
            None => None,
        };
        let member_ids = self
            .member_ids
            .map(|ids| distinct("member_ids", ids.iter().map(|id| id.get())))
            .transpose()?;
        Ok(TeamChanges { name, member_ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn views_see_what_they_name() {
        assert!(AccountView::All.sees("a"));
        let only = AccountView::Only(set(&["a"]));
        assert!(only.sees("a") && !only.sees("b") && !only.sees_all());
        let except = AccountView::Except(set(&["b"]));
        assert!(except.sees("a") && !except.sees("b") && except.sees("c"));
        assert!(AccountView::Except(set(&[])).sees_all());
    }

    #[test]
    fn an_empty_list_lifts_the_restriction_and_ids_are_made_distinct() {
        assert_eq!(AccessIn::default().validate().unwrap(), None);
        let body: AccessIn = serde_json::from_str(r#"{"user_ids":[4,3,4]}"#).unwrap();
        assert_eq!(
            body.validate().unwrap(),
            Some(AccessList {
                user_ids: vec![3, 4],
                team_ids: vec![]
            })
        );
        let zero: AccessIn = serde_json::from_str(r#"{"team_ids":[0]}"#).unwrap();
        assert_eq!(zero.validate().unwrap_err().field, "team_ids");
        assert!(serde_json::from_str::<AccessIn>(r#"{"users":[1]}"#).is_err());
        let many = AccessIn {
            user_ids: (1..=MAX_GRANTEES as i64 + 1).map(UserId::new).collect(),
            team_ids: vec![],
        };
        assert_eq!(many.validate().unwrap_err().field, "user_ids");
    }

    #[test]
    fn a_new_team_needs_a_name() {
        let nameless = TeamIn {
            name: None,
            member_ids: None,
        };
        assert_eq!(nameless.validate(true).unwrap_err().field, "name");
        let blank = TeamIn {
            name: Some("  ".into()),
            member_ids: None,
        };
        assert_eq!(blank.validate(false).unwrap_err().field, "name");
    }
}
