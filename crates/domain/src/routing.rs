//! Who gets a call: the rules of the call center, without clocks or I/O, so they are tested exactly.
//!
//! An agent's *status* is theirs to set (available, busy, away, offline); their *state* is the system's
//! (idle, ringing, on a call, wrapping up). A call is offered to one agent at a time: the available,
//! idle agent who has been idle longest, optionally only among the call's queue; an agent who let it
//! ring out is not offered the same call again while others can take it.

crate::named_enum! {
    /// What an agent says about themselves.
    pub enum AgentStatus {
        Available = "available",
        Busy = "busy",
        Away = "away",
        Offline = "offline",
    }
}

crate::named_enum! {
    /// What the system knows an agent is doing.
    pub enum AgentState {
        Idle = "idle",
        Ringing = "ringing",
        OnCall = "on_call",
        WrapUp = "wrap_up",
    }
}

/// What routing needs to know about an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub agent_id: i64,
    pub status: AgentStatus,
    pub state: AgentState,
    /// When the agent last became idle (Unix milliseconds); the smallest waited longest.
    pub idle_since: i64,
    pub queues: &'a [String],
}

/// The agent to offer a call to, or `None` when nobody can take it now (the call waits in its queue).
/// `declined` are the agents the call already rang without an answer; they are chosen only when no one
/// else can take it, so a lone agent who stepped away for a moment still gets the call again.
pub fn pick<'a>(
    candidates: &[Candidate<'a>],
    queue: Option<&str>,
    declined: &[i64],
) -> Option<i64> {
    // A queue nobody belongs to (a phone system naming queues the call center never set up) restricts
    // nothing: the call would otherwise wait for ever.
    let queue = queue.filter(|q| {
        candidates
            .iter()
            .any(|c| c.queues.iter().any(|own| own == q))
    });
    let eligible = candidates.iter().filter(|c| {
        c.status == AgentStatus::Available
            && c.state == AgentState::Idle
            && queue.is_none_or(|q| c.queues.iter().any(|own| own == q))
    });
    let longest_idle = |pool: &mut dyn Iterator<Item = &Candidate<'a>>| {
        pool.min_by_key(|c| (c.idle_since, c.agent_id))
            .map(|c| c.agent_id)
    };
    let mut fresh = eligible.clone().filter(|c| !declined.contains(&c.agent_id));
    longest_idle(&mut fresh).or_else(|| longest_idle(&mut eligible.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(
        agent_id: i64,
        status: AgentStatus,
        state: AgentState,
        idle_since: i64,
        queues: &[String],
    ) -> Candidate<'_> {
        Candidate {
            agent_id,
            status,
            state,
            idle_since,
            queues,
        }
    }

    #[test]
    fn a_queue_nobody_belongs_to_restricts_nothing() {
        let sales = vec!["sales".to_owned()];
        let none: Vec<String> = vec![];
        let agents = [
            agent(1, AgentStatus::Available, AgentState::Idle, 10, &none),
            agent(2, AgentStatus::Away, AgentState::Idle, 5, &sales),
        ];
        // Someone belongs to `sales`: a sales call waits for them.
        assert_eq!(pick(&agents, Some("sales"), &[]), None);
        // Nobody belongs to `support`: anyone free takes it.
        assert_eq!(pick(&agents, Some("support"), &[]), Some(1));
    }

    #[test]
    fn the_longest_idle_available_agent_gets_the_call() {
        let none: Vec<String> = vec![];
        let agents = [
            agent(1, AgentStatus::Available, AgentState::Idle, 300, &none),
            agent(2, AgentStatus::Available, AgentState::Idle, 100, &none),
            agent(3, AgentStatus::Away, AgentState::Idle, 10, &none),
            agent(4, AgentStatus::Available, AgentState::OnCall, 5, &none),
        ];
        assert_eq!(pick(&agents, None, &[]), Some(2));
    }

    #[test]
    fn nobody_available_means_the_call_waits() {
        let none: Vec<String> = vec![];
        let agents = [
            agent(1, AgentStatus::Busy, AgentState::Idle, 1, &none),
            agent(2, AgentStatus::Available, AgentState::Ringing, 1, &none),
            agent(3, AgentStatus::Offline, AgentState::Idle, 1, &none),
        ];
        assert_eq!(pick(&agents, None, &[]), None);
    }

    #[test]
    fn a_ring_out_moves_the_call_on_but_a_lone_agent_gets_it_again() {
        let none: Vec<String> = vec![];
        let agents = [
            agent(1, AgentStatus::Available, AgentState::Idle, 100, &none),
            agent(2, AgentStatus::Available, AgentState::Idle, 200, &none),
        ];
        assert_eq!(pick(&agents, None, &[1]), Some(2));
        assert_eq!(pick(&agents[..1], None, &[1]), Some(1));
    }

    #[test]
    fn queues_limit_who_is_offered() {
        let sales = vec!["sales".to_owned()];
        let support = vec!["support".to_owned()];
        let agents = [
            agent(1, AgentStatus::Available, AgentState::Idle, 100, &support),
            agent(2, AgentStatus::Available, AgentState::Idle, 200, &sales),
        ];
        assert_eq!(pick(&agents, Some("sales"), &[]), Some(2));
        // Nobody belongs to `billing`: the longest idle takes it rather than nobody.
        assert_eq!(pick(&agents, Some("billing"), &[]), Some(1));
        assert_eq!(pick(&agents, None, &[]), Some(1));
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            AgentStatus::Available,
            AgentStatus::Busy,
            AgentStatus::Away,
            AgentStatus::Offline,
        ] {
            assert_eq!(AgentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(AgentStatus::parse("sleeping"), None);
    }
}
