//! Seed-style `user_accounts.json` files: `accounts import` loads them into the CRM, and `bot
//! --accounts-file` takes one account's credentials from them.

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;
use std::path::Path;
use switchboard_domain::outbound::Credentials;
use switchboard_storage::{AccountKind, NewAccount};

/// Reads the JSON of the file at `path`.
pub fn read(path: &Path) -> Result<Value> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&content).with_context(|| format!("{} is not JSON", path.display()))
}

/// Reads a seed-style `user_accounts.json`: an object of named entries (`{"account1": {…}}`), an array of
/// entries, or `{"accounts": […]}`. Field names vary between tools, so the usual spellings are accepted.
pub fn parse_user_accounts(json: &Value) -> Result<Vec<NewAccount>> {
    Ok(labelled_user_accounts(json)?
        .into_iter()
        .map(|(_, account)| account)
        .collect())
}

/// Like [`parse_user_accounts`], with each entry's name in the file (`account1`, `[0]`).
pub fn labelled_user_accounts(json: &Value) -> Result<Vec<(String, NewAccount)>> {
    let entries: Vec<(String, &Value)> = match json {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Value::Object(map) => match map.get("accounts") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("accounts[{i}]"), v))
                .collect(),
            _ => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        },
        _ => bail!("expected an object or an array of accounts"),
    };
    let field = |entry: &Value, names: &[&str]| -> Option<String> {
        names.iter().find_map(|name| match entry.get(*name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(_) | Value::Object(_) => entry.get(*name).map(Value::to_string),
            _ => None,
        })
    };
    entries
        .into_iter()
        .map(|(label, entry)| {
            if !entry.is_object() {
                bail!("{label}: expected an object");
            }
            let user_id_chat = field(entry, &["user_id_chat", "uid", "user_id", "page_id", "id"])
                .ok_or_else(|| {
                anyhow!("{label}: no `user_id_chat` (or uid, user_id, page_id, id)")
            })?;
            let user_id_chat =
                switchboard_domain::ingest::account_id("user_id_chat", &user_id_chat)
                    .with_context(|| label.clone())?;
            let credentials = Credentials {
                password: field(entry, &["password", "pass"]),
                cookies: field(entry, &["cookies", "cookie"]),
                two_factor_secret: field(
                    entry,
                    &[
                        "two_factor_secret",
                        "2fa",
                        "two_fa",
                        "totp_secret",
                        "2fa_secret",
                    ],
                ),
                page_access_token: field(entry, &["page_access_token", "access_token"]),
            };
            let kind = match field(entry, &["kind", "type"]).as_deref() {
                Some("page") => AccountKind::Page,
                Some("personal") | Some("user") => AccountKind::Personal,
                Some(other) => {
                    bail!("{label}: kind `{other}` is neither `page` nor `personal`");
                }
                None if credentials.page_access_token.is_some() => AccountKind::Page,
                None => AccountKind::Personal,
            };
            let name =
                field(entry, &["name", "display_name", "username", "email"]).unwrap_or_else(|| {
                    if label.starts_with('[') || label.starts_with("accounts[") {
                        String::new()
                    } else {
                        label.clone()
                    }
                });
            Ok((
                label,
                NewAccount {
                    user_id_chat,
                    name,
                    kind,
                    credentials,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_style_files_are_understood() {
        let file = json!({
            "account1": {"email": "shop@example.vn", "password": "p@ss", "user_id_chat": "100089", "cookies": [{"name": "c_user"}], "2fa": "JBSW"},
            "page1": {"page_id": 5550001, "page_access_token": "EAAB"}
        });
        let accounts = parse_user_accounts(&file).expect("parse");
        assert_eq!(accounts.len(), 2);
        let with_id = |id: &str| {
            accounts
                .iter()
                .find(|a| a.user_id_chat == id)
                .unwrap_or_else(|| panic!("no account {id}"))
        };
        let first = with_id("100089");
        assert_eq!(
            (first.kind, first.name.as_str()),
            (AccountKind::Personal, "shop@example.vn")
        );
        assert_eq!(first.credentials.two_factor_secret.as_deref(), Some("JBSW"));
        assert!(
            first
                .credentials
                .cookies
                .as_deref()
                .is_some_and(|c| c.contains("c_user"))
        );
        let page = with_id("5550001");
        assert_eq!(
            (page.kind, page.name.as_str()),
            (AccountKind::Page, "page1")
        );
        assert!(parse_user_accounts(&json!([{"password": "x"}])).is_err());
    }
}
