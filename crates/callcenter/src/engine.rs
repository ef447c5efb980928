//! What the call center does, whoever asks (a console over Socket.IO or REST, the phone system over the
//! CTI webhook): check who may act, change the state in one transaction, wake the event feed, start the
//! ring timers of new offers, and tell the phone system what the console decided.
//!
//! Timers outlive the node that starts them: the store writes each offer's and wrap-up's due moment in
//! the transaction that starts it. This node fires its own at that moment, and every call-center node
//! sweeps for timers overdue by more than [`CallCenterOptions::timer_sweep`], whoever started them (the
//! node may have died). Firing is idempotent: the second finds the offer gone or made again (not yet
//! due), or the wrap-up ended or replaced by a later one.

use crate::error::CallCenterError;
use crate::webhook::{PhoneSystemNotice, Webhook};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use switchboard_console::ConsoleConfig;
use switchboard_domain::callcenter::{AgentStatusIn, AnswerCallIn, CtiEvent, Direction, EndCallIn};
use switchboard_domain::phone_commands::{DialIn, PhoneCommandKind, TransferTarget};
use switchboard_domain::reports::ReportRules;
use switchboard_domain::{
    AgentId, CallStatus, CallbackId, CustomerId, Principal, UnixMillis, ValidationError, phone,
    routing::{AgentState, AgentStatus},
};
use switchboard_realtime::EventFeed;
use switchboard_storage::{
    Agent, Call, CallTimers, Effects, NewCall, NewCallOutcome, Offer, PhoneCommand, StorageError,
    Store,
};

/// Settings of the call center.
#[derive(Debug, Clone)]
pub struct CallCenterOptions {
    /// How long a call rings at one agent before it moves on to the next.
    pub ring_timeout: Duration,
    /// How long an agent stays in wrap-up (no offers) after a call they talked on; zero for none.
    pub wrap_up: Duration,
    /// Offers in a row an agent lets ring out before they are set away (and supervisors told); zero: never.
    pub max_no_answer: u32,
    /// The business's time zone, for "today" on the floor and the days of reports (checked at start).
    pub time_zone: String,
    /// How the service level is measured.
    pub service_level: switchboard_domain::reports::ServiceLevelRule,
    /// Where to tell the phone system that a console answered or rejected a call (`None`: nowhere).
    pub webhook_url: Option<String>,
    /// Signs the webhook's body (`X-Switchboard-Signature: sha256=<hex HMAC>`), when set.
    pub webhook_secret: Option<String>,
    /// Where the console served on this port finds the receiver and the sender.
    pub console: ConsoleConfig,
    /// How often this node looks for ring and wrap-up timers overdue by more than this much, started
    /// by any node: a timer of a node that died fires at most about twice this late.
    pub timer_sweep: Duration,
}

impl Default for CallCenterOptions {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(20),
            wrap_up: Duration::ZERO,
            max_no_answer: 3,
            time_zone: switchboard_domain::reports::DEFAULT_TIME_ZONE.to_owned(),
            service_level: switchboard_domain::reports::ServiceLevelRule::default(),
            webhook_url: None,
            webhook_secret: None,
            console: ConsoleConfig::default(),
            timer_sweep: Duration::from_secs(1),
        }
    }
}

/// What the engine's actions answer.
type Outcome<T> = Result<T, CallCenterError>;

/// What a timer does when it fires.
#[derive(Debug)]
enum Timer {
    RingOut(Offer),
    /// The end of an agent's wrap-up, if it is due (a later wrap-up is not).
    WrapUp(AgentId),
}

/// What a console asks for, named by its Socket.IO event; the REST routes ask for the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleAction {
    Answer,
    End,
    SetStatus,
}

impl ConsoleAction {
    pub const ALL: [Self; 3] = [Self::Answer, Self::End, Self::SetStatus];

    pub fn event(self) -> &'static str {
        match self {
            Self::Answer => "answer_call",
            Self::End => "end_call",
            Self::SetStatus => "set_agent_status",
        }
    }
}

/// What the phone system hears back from `newCall` (Zammad's answer: reject a blocked caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtiReply {
    Recorded(Box<Call>),
    Reject { reason: String },
}

/// Cheap to clone; every handler holds one.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    feed: EventFeed,
    options: Arc<CallCenterOptions>,
    webhook: Webhook,
    /// Wakes this node's outbox when a command to the phone system was stored.
    outbox: Arc<tokio::sync::Notify>,
}

impl Engine {
    pub fn new(store: Store, feed: EventFeed, options: CallCenterOptions) -> Self {
        let webhook = Webhook::new(options.webhook_url.clone(), options.webhook_secret.clone());
        let store = store.with_call_timers(CallTimers {
            ring: options.ring_timeout,
            wrap_up: options.wrap_up,
            max_no_answer: options.max_no_answer,
        });
        // The settings checked the zone at start; a wrong one given in code falls back, said aloud.
        let rules = ReportRules::new(&options.time_zone, options.service_level).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the call center's time zone is refused; reports use Asia/Ho_Chi_Minh");
            ReportRules::default()
        });
        let store = store.with_report_rules(rules);
        Self {
            store,
            feed,
            options: Arc::new(options),
            webhook,
            outbox: Arc::default(),
        }
    }

    pub(crate) fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    pub(crate) fn outbox_wake(&self) -> &tokio::sync::Notify {
        &self.outbox
    }

    /// Stores a command for the phone system and wakes the outbox; `None` when no phone system is
    /// configured (nothing to tell).
    pub(crate) async fn command(
        &self,
        kind: PhoneCommandKind,
        notice: PhoneSystemNotice,
        user_id: Option<i64>,
    ) -> Outcome<Option<PhoneCommand>> {
        if !self.webhook.is_enabled() {
            return Ok(None);
        }
        let body = serde_json::to_string(&notice).map_err(StorageError::from)?;
        let command = self
            .store
            .queue_phone_command(
                kind,
                notice.call_id.clone(),
                body,
                (notice.agent_id, user_id),
            )
            .await?;
        self.feed.notify();
        self.outbox.notify_one();
        Ok(Some(command))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn options(&self) -> &CallCenterOptions {
        &self.options
    }

    pub fn feed(&self) -> &EventFeed {
        &self.feed
    }

    /// Times the ring-outs and wrap-ups pending in the store (those of calls ringing when this node
    /// started, whoever started them) at their stored due moments, and starts this node's sweep.
    pub async fn resume(&self) -> Result<(), StorageError> {
        let pending = self.store.pending_timers(UnixMillis(i64::MAX)).await?;
        for (offer, due) in pending.offers {
            self.at(due, Timer::RingOut(offer));
        }
        for (agent_id, due) in pending.wrap_ups {
            self.at(due, Timer::WrapUp(AgentId::new(agent_id)));
        }
        tokio::spawn(self.clone().sweep());
        Ok(())
    }

    /// Fires, about every [`CallCenterOptions::timer_sweep`], the timers overdue by more than that:
    /// those whose node died (or whose own timer failed).
    async fn sweep(self) {
        let every = self.options.timer_sweep;
        let grace = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.report_gauges().await;
            let due_by = UnixMillis(UnixMillis::now().0.saturating_sub(grace));
            let pending = match self.store.pending_timers(due_by).await {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::warn!(%error, "cannot look for overdue call-center timers");
                    continue;
                }
            };
            for (offer, _) in pending.offers {
                self.fire(Timer::RingOut(offer)).await;
            }
            for (agent_id, _) in pending.wrap_ups {
                self.fire(Timer::WrapUp(AgentId::new(agent_id))).await;
            }
        }
    }

    /// Sets `switchboard_calls` and `switchboard_agents` from the store; pairs no agent is in any more
    /// read 0 (a gauge that vanished would look like a scrape that failed).
    async fn report_gauges(&self) {
        let gauges = match self.store.call_center_gauges().await {
            Ok(gauges) => gauges,
            Err(error) => {
                tracing::debug!(%error, "cannot read the call center's gauges");
                return;
            }
        };
        let metrics = switchboard_metrics::metrics();
        let waited = gauges.oldest_waiting_since.map_or(0.0, |since| {
            UnixMillis::now().0.saturating_sub(since.0).max(0) as f64 / 1000.0
        });
        metrics.call_oldest_wait_seconds.set(waited);
        for (status, state) in [
            (CallStatus::Ringing, "ringing"),
            (CallStatus::Queued, "waiting"),
            (CallStatus::Connected, "connected"),
        ] {
            let count = gauges
                .calls
                .iter()
                .find(|(found, _)| *found == status)
                .map_or(0, |(_, count)| *count);
            metrics
                .calls
                .get_or_create(&switchboard_metrics::CallLabels { state })
                .set(count);
        }
        for &status in AgentStatus::ALL {
            for &state in AgentState::ALL {
                let count = gauges
                    .agents
                    .iter()
                    .find(|(s, t, _)| *s == status && *t == state)
                    .map_or(0, |(_, _, count)| *count);
                metrics
                    .agents
                    .get_or_create(&switchboard_metrics::AgentLabels {
                        status: status.as_str(),
                        state: state.as_str(),
                    })
                    .set(count);
            }
        }
    }

    /// Makes what a change did visible: consoles get its events now, offers start ringing, wrap-ups
    /// start counting (their due moments are stored; these are this node's precise timers for them).
    fn apply(&self, effects: Effects) {
        if effects.events > 0 {
            self.feed.notify();
        }
        for offer in effects.offers {
            self.later(self.options.ring_timeout, Timer::RingOut(offer));
        }
        for agent_id in effects.wrap_ups {
            self.later(self.options.wrap_up, Timer::WrapUp(AgentId::new(agent_id)));
        }
    }

    /// Runs `timer` at the moment `due` (at once when it has passed).
    fn at(&self, due: UnixMillis, timer: Timer) {
        let wait = u64::try_from(due.0.saturating_sub(UnixMillis::now().0)).unwrap_or(0);
        self.later(Duration::from_millis(wait), timer);
    }

    /// Runs `timer` after `delay`. Timers are never cancelled: one whose moment has passed (the call was
    /// answered, the wrap-up ended otherwise) is a no-op in the store.
    fn later(&self, delay: Duration, timer: Timer) {
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            engine.fire(timer).await;
        });
    }

    async fn fire(&self, timer: Timer) {
        let result = match &timer {
            Timer::RingOut(offer) => self.store.ring_timeout(offer.clone()).await,
            Timer::WrapUp(agent_id) => self.store.finish_wrap_up(agent_id.get()).await,
        };
        match result {
            Ok(effects) => self.apply(effects),
            Err(StorageError::UnknownCall(_) | StorageError::UnknownAgent(_)) => {}
            Err(error) => tracing::error!(%error, ?timer, "a call-center timer failed"),
        }
    }

    /// The agent `principal` acts as: the one asked for, if they may act for others, or their own.
    async fn acting_agent(
        &self,
        principal: &Principal,
        requested: Option<AgentId>,
    ) -> Outcome<Agent> {
        if principal.supervises_agents()
            && let Some(id) = requested
        {
            return Ok(self.store.agent(id.get()).await?);
        }
        let own = match principal.user_id() {
            Some(user_id) => self.store.agent_for_user(user_id).await?,
            None => None,
        };
        match (own, requested) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(id)) if own.id == id.get() => Ok(own),
            (Some(_), Some(_)) => Err(CallCenterError::NotTheirAgent),
            (None, _) if principal.supervises_agents() => {
                Err(ValidationError::new("agentId", "is required: say which agent").into())
            }
            (None, _) => Err(CallCenterError::NotAnAgent),
        }
    }

    /// A console's action with its payload as sent (the seed's shape), validated here once for Socket.IO
    /// and REST alike; answers what the action changed.
    pub async fn act(
        &self,
        principal: &Principal,
        action: ConsoleAction,
        body: &serde_json::Value,
    ) -> Outcome<serde_json::Value> {
        Ok(match action {
            ConsoleAction::Answer => {
                json!(self.answer(principal, AnswerCallIn::parse(body)?).await?)
            }
            ConsoleAction::End => json!(self.end(principal, EndCallIn::parse(body)?).await?),
            ConsoleAction::SetStatus => {
                json!(
                    self.set_status(principal, AgentStatusIn::parse(body)?)
                        .await?
                )
            }
        })
    }

    /// `answer_call`: the first answer wins; the others get `call_taken`.
    pub(crate) async fn answer(&self, principal: &Principal, input: AnswerCallIn) -> Outcome<Call> {
        let agent = self
            .acting_agent(principal, input.agent_id.map(AgentId::new))
            .await?;
        let (call, effects) = self
            .store
            .answer_call(&input.call.call_id, agent.id)
            .await?;
        count(&call, Counted::Answered);
        self.apply(effects);
        let notice = PhoneSystemNotice::answer(&call, &agent, &input.call.source);
        self.command(PhoneCommandKind::Answer, notice, principal.user_id())
            .await?;
        Ok(call)
    }

    /// `end_call`: a reject while the call rings, a hangup once it is connected.
    pub(crate) async fn end(&self, principal: &Principal, input: EndCallIn) -> Outcome<Call> {
        if !principal.supervises_agents() {
            let agent = self.acting_agent(principal, None).await?;
            let current = self.store.call(&input.call.call_id).await?;
            let theirs = current.offered_agent_id == Some(agent.id);
            if !theirs {
                return Err(CallCenterError::NotTheirCall(input.call.call_id));
            }
        }
        let (call, effects) = self
            .store
            .end_call(&input.call.call_id, &input.end_reason)
            .await?;
        count(&call, Counted::Ended);
        self.apply(effects);
        if self.webhook.is_enabled() {
            // The agent the call held: who answered it, or the one it was ringing at.
            let agent = match call.offered_agent_id {
                Some(id) => self.store.agent(id).await.ok(),
                None => None,
            };
            let was_connected = call.answered_at.is_some();
            let kind = if was_connected {
                PhoneCommandKind::Hangup
            } else {
                PhoneCommandKind::Reject
            };
            let notice =
                PhoneSystemNotice::end(&call, agent.as_ref(), was_connected, &input.call.source);
            self.command(kind, notice, principal.user_id()).await?;
        }
        Ok(call)
    }

    /// Click-to-call: asks the phone system to ring the agent's extension, then `number`. The call
    /// itself appears when the phone system reports it (`newCall`, direction `out`).
    pub(crate) async fn dial(&self, principal: &Principal, input: DialIn) -> Outcome<PhoneCommand> {
        let number = input.number()?;
        if !self.webhook.is_enabled() {
            return Err(CallCenterError::NoPhoneSystem);
        }
        let agent = self.acting_agent(principal, input.agent_id).await?;
        if agent.extension.is_empty() {
            return Err(ValidationError::new(
                "agentId",
                format!(
                    "{} has no extension for the phone system to ring",
                    agent.full_name
                ),
            )
            .into());
        }
        let refs = (
            input.customer_id.map(CustomerId::get),
            input.callback_id.map(CallbackId::get),
        );
        let notice = PhoneSystemNotice::dial(&agent, number, refs);
        self.command(PhoneCommandKind::Dial, notice, principal.user_id())
            .await?
            .ok_or(CallCenterError::NoPhoneSystem)
    }

    /// Asks the phone system to move a connected call to another agent or a queue. The agent who has
    /// the call, or a supervisor. The call moves when the phone system reports the new agent's answer.
    pub(crate) async fn transfer(
        &self,
        principal: &Principal,
        call_id: &str,
        target: TransferTarget,
    ) -> Outcome<PhoneCommand> {
        if !self.webhook.is_enabled() {
            return Err(CallCenterError::NoPhoneSystem);
        }
        let call = self.store.call(call_id).await?;
        if call.status != CallStatus::Connected {
            return Err(CallCenterError::Conflict(format!(
                "call `{call_id}` is not connected; only a call in progress is transferred"
            )));
        }
        let holder = match call.answered_by {
            Some(id) => Some(self.store.agent(id).await?),
            None => None,
        };
        if !principal.supervises_agents() {
            let agent = self.acting_agent(principal, None).await?;
            if Some(agent.id) != call.answered_by {
                return Err(CallCenterError::NotTheirCall(call_id.to_owned()));
            }
        }
        let to = match target {
            TransferTarget::Agent(id) => {
                if Some(id) == call.answered_by {
                    return Err(ValidationError::new(
                        "agentId",
                        "the call is with that agent already",
                    )
                    .into());
                }
                (Some(self.store.agent(id).await?), None)
            }
            TransferTarget::Queue(queue) => (None, Some(queue)),
        };
        let notice = PhoneSystemNotice::transfer(&call, holder.as_ref(), (to.0.as_ref(), to.1));
        self.command(PhoneCommandKind::Transfer, notice, principal.user_id())
            .await?
            .ok_or(CallCenterError::NoPhoneSystem)
    }

    /// An agent's own status (or, for supervisors, anyone's).
    pub(crate) async fn set_status(
        &self,
        principal: &Principal,
        input: AgentStatusIn,
    ) -> Outcome<Agent> {
        let agent = self
            .acting_agent(principal, input.agent_id.map(AgentId::new))
            .await?;
        let (agent, effects) = self.store.set_agent_status(agent.id, input.status).await?;
        self.apply(effects);
        Ok(agent)
    }

    /// An event of the phone system. Reports are idempotent: a phone system that retries a request it
    /// got no answer to changes nothing the second time.
    pub async fn cti(&self, event: CtiEvent) -> Outcome<CtiReply> {
        match event {
            CtiEvent::NewCall {
                call_id,
                from,
                to,
                direction,
                users,
                queue,
            } => {
                let (customer_number, agent_id) = match direction {
                    Direction::In => (from.as_str(), None),
                    Direction::Out => {
                        let user = users.first().map_or("", String::as_str);
                        let agent = self.store.find_agent(&from, user).await?;
                        (to.as_str(), agent.map(|a| a.id))
                    }
                };
                let new = NewCall {
                    call_id,
                    caller_normalized: phone::normalize(customer_number)
                        .unwrap_or_else(|_| customer_number.to_owned()),
                    caller_number: from,
                    called_number: to,
                    direction: direction.as_str().to_owned(),
                    queue,
                    source: "cti".to_owned(),
                    agent_id,
                };
                match self.store.new_call(new).await? {
                    NewCallOutcome::Accepted { call, effects } => {
                        count(&call, Counted::Offered);
                        self.apply(effects);
                        Ok(CtiReply::Recorded(Box::new(call)))
                    }
                    NewCallOutcome::Duplicate { call } => Ok(CtiReply::Recorded(Box::new(call))),
                    NewCallOutcome::Blocked { reason } => Ok(CtiReply::Reject { reason }),
                }
            }
            CtiEvent::Answer {
                call_id,
                user,
                answering_number,
            } => {
                let current = self.store.call(&call_id).await?;
                let named = self
                    .store
                    .find_agent(
                        answering_number.as_deref().unwrap_or(""),
                        user.as_deref().unwrap_or(""),
                    )
                    .await?
                    .map(|a| a.id);
                let Some(agent_id) = named.or(current.answered_by).or(current.offered_agent_id)
                else {
                    return Err(ValidationError::new(
                        "answeringNumber",
                        "matches no agent's extension (nor `user` an agent's name), and the call rings at nobody",
                    )
                    .into());
                };
                match self.store.answer_call(&call_id, agent_id).await {
                    Ok((call, effects)) => {
                        count(&call, Counted::Answered);
                        self.apply(effects);
                        Ok(CtiReply::Recorded(Box::new(call)))
                    }
                    // The console answered first and the phone system confirms it.
                    Err(StorageError::CallTaken(_)) if current.answered_by == Some(agent_id) => {
                        Ok(CtiReply::Recorded(Box::new(current)))
                    }
                    // Another agent picked up a connected call: the phone system transferred it.
                    Err(StorageError::CallTaken(_)) if named.is_some() => {
                        let (call, effects) = self.store.transfer_call(&call_id, agent_id).await?;
                        self.apply(effects);
                        Ok(CtiReply::Recorded(Box::new(call)))
                    }
                    Err(error) => Err(error.into()),
                }
            }
            CtiEvent::Hangup {
                call_id,
                cause,
                recording_url,
            } => {
                let ended = match self.store.end_call(&call_id, cause.end_reason()).await {
                    Ok((call, effects)) => {
                        count(&call, Counted::Ended);
                        self.apply(effects);
                        call
                    }
                    // The console rejected it and the phone system reports the hangup that followed
                    // (or retries its report).
                    Err(StorageError::CallEnded(_)) => self.store.call(&call_id).await?,
                    Err(error) => return Err(error.into()),
                };
                // Kept apart from the end: a retried report sets it again.
                let call = match recording_url {
                    Some(url) => self.store.set_recording_url(&call_id, url).await?,
                    None => ended,
                };
                Ok(CtiReply::Recorded(Box::new(call)))
            }
        }
    }
}

/// A change of a call that the call-center counters count.
#[derive(Debug, Clone, Copy)]
enum Counted {
    Offered,
    Answered,
    /// Ended: counted as missed when it was never answered.
    Ended,
}

/// Counts `call`'s change in `switchboard_calls_{offered,answered,missed}_total`, inbound calls only
/// (an outbound call nobody picked up is not one the call center missed). Each change is made once,
/// on one node, so the counters add up across nodes.
fn count(call: &Call, change: Counted) {
    if call.direction != Direction::In.as_str() {
        return;
    }
    let metrics = switchboard_metrics::metrics();
    let counter = match change {
        Counted::Offered => &metrics.calls_offered,
        Counted::Answered => &metrics.calls_answered,
        Counted::Ended if call.missed => &metrics.calls_missed,
        Counted::Ended => return,
    };
    counter.inc();
}
