//! Conversations shared out automatically. On an account with `auto_assign`, a conversation that is
//! open and nobody's goes to the online agent who may see the account and has the fewest open
//! conversations, under the account's limit (ties go to whoever was given one least recently); when
//! every agent is full it waits, and the queue is handed out oldest first as soon as someone has room
//! or comes online; one an agent handed back goes to someone else. An agent is online while a live
//! sender node holds a console of theirs; one whose consoles have all been gone for a while may hand
//! their open conversations back (per account).
//!
//! Handing out runs inside the write that made room or work: a batch of messages, a console
//! connecting, a conversation resolved or handed back, the settings changed, and every node's
//! heartbeat as the sweep that catches anything else. All of these are single write transactions,
//! so two nodes never give the same conversation twice.

use crate::accounts::{self, Account};
use crate::inbox::conversation;
use crate::presence::{NodeId, beat};
use crate::sql::{Tx, args};
use crate::teamwork::announce_update;
use crate::{Result, StorageError, Store};
use std::time::Duration;
use switchboard_domain::UnixMillis;
use switchboard_domain::teamwork::{AssignmentIn, UpdateReason};

/// Most conversations one pass gives out per account (the rest go at the next pass, a moment later).
const HAND_OUT_AT_ONCE: i64 = 200;

/// An agent who may be given conversations, with how many open ones they have.
struct Candidate {
    user_id: i64,
    open: i64,
    assigned_at: i64,
}

/// Gives the waiting conversations of `account` (or of every account with automatic assignment) to
/// online agents with room. Answers how many it gave.
pub(crate) fn hand_out(tx: &Tx<'_>, account: Option<i64>, now: i64) -> Result<usize> {
    let accounts: Vec<(i64, i64)> = tx.rows(
        "SELECT id, assign_limit FROM facebook_accounts
         WHERE auto_assign = ?1 AND enabled = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR id = ?2)",
        args![true, account],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut given = 0;
    for (account_id, limit) in accounts {
        given += hand_out_of(tx, account_id, limit, now)?;
    }
    Ok(given)
}

fn hand_out_of(tx: &Tx<'_>, account_id: i64, limit: i64, now: i64) -> Result<usize> {
    let mut candidates = Vec::new();
    for candidate in tx.rows(
        "SELECT u.id, u.auto_assigned_at,
                (SELECT COUNT(*) FROM conversations c WHERE c.assignee_user_id = u.id AND c.status = 'open')
         FROM users u
         WHERE u.role = 'agent' AND u.disabled = ?1
           AND EXISTS (SELECT 1 FROM console_connections cc WHERE cc.user_id = u.id)",
        args![false],
        |r| {
            Ok(Candidate {
                user_id: r.get(0)?,
                assigned_at: r.get(1)?,
                open: r.get(2)?,
            })
        },
    )? {
        if crate::access::user_sees(tx, candidate.user_id, account_id)? {
            candidates.push(candidate);
        }
    }
    // Everyone full (a busy shop's usual state) or nobody online: nothing to read of the queue.
    if candidates.iter().all(|c| c.open >= limit) {
        return Ok(0);
    }
    let waiting: Vec<(i64, Option<i64>)> = tx.rows(
        &format!(
            "SELECT id, handed_back_by FROM conversations
             WHERE account_id = ?1 AND assignee_user_id IS NULL AND status = 'open'
             ORDER BY last_message_at, id LIMIT {HAND_OUT_AT_ONCE}"
        ),
        args![account_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut given = 0;
    for (conversation_id, handed_back_by) in waiting {
        if candidates.iter().all(|c| c.open >= limit) {
            break;
        }
        // Whoever handed it back is not given it again: it waits for someone else.
        let Some(agent) = candidates
            .iter_mut()
            .filter(|c| c.open < limit && Some(c.user_id) != handed_back_by)
            .min_by_key(|c| (c.open, c.assigned_at, c.user_id))
        else {
            continue;
        };
        agent.open += 1;
        // Within one pass the clock may not move: a counter keeps the round going.
        agent.assigned_at = now.saturating_mul(1000).saturating_add(given as i64);
        tx.execute(
            "UPDATE conversations SET assignee_user_id = ?2, handed_back_by = NULL, updated_at = ?3
             WHERE id = ?1",
            args![conversation_id, agent.user_id, now],
        )?;
        tx.execute(
            "UPDATE users SET auto_assigned_at = ?2 WHERE id = ?1",
            args![agent.user_id, agent.assigned_at],
        )?;
        let view = conversation(tx, conversation_id)?;
        announce_update(tx, &view, None, UpdateReason::AutoAssigned)?;
        given += 1;
    }
    Ok(given)
}

/// Whether the user has a console on any live node.
fn is_online(tx: &Tx<'_>, user_id: i64) -> Result<bool> {
    tx.one(
        "SELECT EXISTS (SELECT 1 FROM console_connections WHERE user_id = ?1)",
        args![user_id],
        |r| r.get(0),
    )
}

/// Records a console of `user_id` on `node`: the user is online (a user deleted meanwhile is not).
fn arrived(tx: &Tx<'_>, node: &NodeId, user_id: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO console_connections (node_id, user_id)
         SELECT ?1, id FROM users WHERE id = ?2 ON CONFLICT DO NOTHING",
        args![node.as_str(), user_id],
    )?;
    tx.execute(
        "UPDATE users SET console_left_at = NULL WHERE id = ?1",
        args![user_id],
    )?;
    Ok(())
}

/// Notes when a user's last console went away (kept from the first time until they come back).
fn left(tx: &Tx<'_>, user_id: i64, now: i64) -> Result<()> {
    if !is_online(tx, user_id)? {
        tx.execute(
            "UPDATE users SET console_left_at = ?2 WHERE id = ?1 AND console_left_at IS NULL",
            args![user_id, now],
        )?;
    }
    Ok(())
}

/// Hands back the open conversations of agents offline since before `cutoff`, on accounts that ask for
/// it. Answers how many conversations went back.
fn return_offline(tx: &Tx<'_>, cutoff: i64, now: i64) -> Result<usize> {
    let gone: Vec<i64> = tx.rows(
        "SELECT id FROM users WHERE console_left_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM console_connections cc WHERE cc.user_id = users.id)",
        args![cutoff],
        |r| r.get(0),
    )?;
    let mut returned = 0;
    for user_id in gone {
        let ids: Vec<i64> = tx.rows(
            "UPDATE conversations SET assignee_user_id = NULL, updated_at = ?2
             WHERE assignee_user_id = ?1 AND status = 'open'
               AND account_id IN (SELECT id FROM facebook_accounts WHERE return_when_offline = ?3)
             RETURNING id",
            args![user_id, now, true],
            |r| r.get(0),
        )?;
        for id in &ids {
            let view = conversation(tx, *id)?;
            announce_update(tx, &view, None, UpdateReason::Returned)?;
        }
        returned += ids.len();
        tx.execute(
            "UPDATE users SET console_left_at = NULL WHERE id = ?1",
            args![user_id],
        )?;
    }
    Ok(returned)
}

impl Store {
    /// Records that `node` holds a console of `user_id` (`online`) or no longer holds one. A user who
    /// comes online is given what waits for them at once. Answers how many conversations changed.
    pub async fn console_connection(
        &self,
        node: &NodeId,
        user_id: i64,
        online: bool,
    ) -> Result<usize> {
        let node = node.clone();
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            beat(tx, &node, now)?;
            if online {
                arrived(tx, &node, user_id)?;
                hand_out(tx, None, now)
            } else {
                tx.execute(
                    "DELETE FROM console_connections WHERE node_id = ?1 AND user_id = ?2",
                    args![node.as_str(), user_id],
                )?;
                left(tx, user_id, now)?;
                Ok(0)
            }
        })
        .await
    }

    /// A sender node's console heartbeat (beside [`Store::presence_heartbeat`], which forgets dead
    /// nodes): `node` holds consoles of exactly the users `held` answers (asked inside the
    /// transaction, as for bots); agents offline for longer than `grace` hand back their open
    /// conversations where the account asks for it; then whatever waits is handed out. Safe on every
    /// node at once. Answers how many conversations changed.
    pub async fn console_heartbeat(
        &self,
        node: &NodeId,
        held: impl FnOnce() -> Vec<i64> + Send + 'static,
        grace: Duration,
    ) -> Result<usize> {
        let node = node.clone();
        let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        self.write(move |tx| {
            let now = UnixMillis::now().0;
            beat(tx, &node, now)?;
            let held = held();
            let recorded: Vec<i64> = tx.rows(
                "SELECT user_id FROM console_connections WHERE node_id = ?1",
                args![node.as_str()],
                |r| r.get(0),
            )?;
            for user_id in recorded.iter().filter(|id| !held.contains(id)) {
                tx.execute(
                    "DELETE FROM console_connections WHERE node_id = ?1 AND user_id = ?2",
                    args![node.as_str(), user_id],
                )?;
                left(tx, *user_id, now)?;
            }
            for user_id in held.iter().filter(|id| !recorded.contains(id)) {
                arrived(tx, &node, *user_id)?;
            }
            let returned = return_offline(tx, now.saturating_sub(grace), now)?;
            Ok(returned + hand_out(tx, None, now)?)
        })
        .await
    }

    /// The users with a console on some live node, by id.
    pub async fn online_users(&self) -> Result<Vec<i64>> {
        self.read(|tx| {
            tx.rows(
                "SELECT DISTINCT user_id FROM console_connections ORDER BY user_id",
                args![],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Changes how an account's conversations are shared out; turning it on (or raising the limit)
    /// hands out what waits at once. Answers the account as it is now and how many conversations
    /// were given.
    pub async fn set_assignment(
        &self,
        user_id_chat: &str,
        changes: AssignmentIn,
    ) -> Result<(Account, usize)> {
        let user_id_chat = user_id_chat.to_owned();
        self.write(move |tx| {
            let account = accounts::find(tx, &user_id_chat)?
                .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            let now = UnixMillis::now().0;
            tx.execute(
                "UPDATE facebook_accounts SET auto_assign = COALESCE(?2, auto_assign),
                     assign_limit = COALESCE(?3, assign_limit),
                     return_when_offline = COALESCE(?4, return_when_offline), updated_at = ?5
                 WHERE id = ?1",
                args![
                    account.id,
                    changes.auto,
                    changes.limit,
                    changes.return_when_offline,
                    now
                ],
            )?;
            let given = hand_out(tx, Some(account.id), now)?;
            let account = accounts::find(tx, &user_id_chat)?
                .ok_or_else(|| StorageError::UnknownAccount(user_id_chat.clone()))?;
            Ok((account, given))
        })
        .await
    }
}
