//! Numbers the call center refuses: a blocked caller's call is turned away before it rings anyone.

use crate::sql::{args, read_row};
use crate::{Result, Store};
use serde::Serialize;
use switchboard_domain::UnixMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedNumber {
    /// Normalised (`+84…` for full numbers, digits for short ones).
    #[schema(example = "+84912345678")]
    pub number: String,
    /// `""` when none was given.
    #[schema(example = "Gọi quấy rối nhiều lần")]
    pub reason: String,
    pub created_at: UnixMillis,
}

impl Store {
    pub async fn unblock_number(&self, number: &str) -> Result<bool> {
        let number = number.to_owned();
        self.write(move |tx| {
            Ok(tx.execute(
                "DELETE FROM blocked_numbers WHERE number = ?1",
                args![number],
            )? > 0)
        })
        .await
    }

    pub async fn blocked_numbers(&self) -> Result<Vec<BlockedNumber>> {
        self.read(|tx| {
            tx.rows(
                "SELECT number, reason, created_at FROM blocked_numbers ORDER BY number",
                args![],
                |r| Ok(read_row!(r => BlockedNumber { number, reason, created_at })),
            )
        })
        .await
    }

    pub async fn block_number(&self, number: &str, reason: &str) -> Result<()> {
        let (number, reason) = (number.to_owned(), reason.to_owned());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO blocked_numbers (number, reason, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
                args![number, reason, UnixMillis::now()],
            )?;
            Ok(())
        })
        .await
    }
}
