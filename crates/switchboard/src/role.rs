//! The server roles a process can run. Everything keyed by role (its address, its limits, its claim
//! on the database, its "listening" line) takes this enum, never a name typed out again.

/// A server role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The API Receiver: bots' ingest.
    Receiver,
    /// The API Sender: the console's API, logins and commands to bots.
    Sender,
    /// The call center: its Socket.IO and REST API, the CTI webhook, and the web console.
    CallCenter,
}

impl Role {
    /// Every role, in the order `serve` starts them.
    pub const ALL: [Role; 3] = [Role::Receiver, Role::Sender, Role::CallCenter];

    /// Its name in the configuration's tables, in logs and stdout lines, and in the store's claims.
    pub fn name(self) -> &'static str {
        match self {
            Role::Receiver => "receiver",
            Role::Sender => "sender",
            Role::CallCenter => "callcenter",
        }
    }
}
