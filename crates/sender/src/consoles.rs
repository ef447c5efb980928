//! The consoles this node holds, by user: an agent is online for automatic assignment while any
//! sender node holds a console of theirs (see `switchboard_storage::Store::console_connection`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub(crate) struct ConsoleRegistry(Arc<Mutex<HashMap<i64, usize>>>);

impl ConsoleRegistry {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<i64, usize>) -> T) -> T {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Counts a console of `user_id`; true when it is their first on this node.
    pub(crate) fn connected(&self, user_id: i64) -> bool {
        self.with(|users| {
            let count = users.entry(user_id).or_default();
            *count += 1;
            *count == 1
        })
    }

    /// Forgets a console of `user_id`; true when it was their last on this node.
    pub(crate) fn disconnected(&self, user_id: i64) -> bool {
        self.with(|users| match users.get_mut(&user_id) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                users.remove(&user_id);
                true
            }
            None => false,
        })
    }

    /// The users with a console here, for this node's heartbeat.
    pub(crate) fn held(&self) -> Vec<i64> {
        self.with(|users| users.keys().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::ConsoleRegistry;

    #[test]
    fn a_user_is_held_until_their_last_console_goes() {
        let consoles = ConsoleRegistry::default();
        assert!(consoles.connected(7));
        assert!(!consoles.connected(7));
        assert_eq!(consoles.held(), [7]);
        assert!(!consoles.disconnected(7));
        assert_eq!(consoles.held(), [7]);
        assert!(consoles.disconnected(7));
        assert!(consoles.held().is_empty());
        assert!(!consoles.disconnected(7), "a second close counts once");
    }
}
