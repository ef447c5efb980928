//! Reports: a period of whole days in the business's time zone, and the call center's measures
//! (offered, answered, abandoned, speed of answer, service level, handle time) as the industry defines
//! them. The store sums raw counts per group ([`CallTally`]); the figures are derived here once, so the
//! live floor and the reports can never disagree.

use crate::{UnixMillis, ValidationError};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

/// The longest period one report covers (a leap year).
pub const MAX_REPORT_DAYS: i64 = 366;

/// The default business time zone (the seed's customers are in Vietnam).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

/// The width of the store's time buckets: every time zone's offset is a whole number of them, so
/// buckets fold into local days exactly.
pub const BUCKET_MILLIS: i64 = 15 * 60 * 1000;

/// An IANA time zone, checked (`field` names the setting or parameter in the error).
pub fn time_zone(field: &str, name: &str) -> Result<TimeZone, ValidationError> {
    if name.is_empty() || name.len() > 64 {
        return Err(ValidationError::new(
            field,
            "must be an IANA time zone such as Asia/Ho_Chi_Minh",
        ));
    }
    TimeZone::get(name).map_err(|_| {
        ValidationError::new(
            field,
            format!(
                "`{}` is not an IANA time zone (such as Asia/Ho_Chi_Minh)",
                crate::validation::clip(name, 64)
            ),
        )
    })
}

/// Whole local days, `from` through `until`, in one time zone.
#[derive(Debug, Clone)]
pub struct ReportPeriod {
    time_zone: TimeZone,
    time_zone_name: String,
    from: Date,
    until: Date,
    /// The first moment of `from`.
    pub start: UnixMillis,
    /// The first moment after `until`.
    pub end: UnixMillis,
}

fn day(field: &str, value: &str) -> Result<Date, ValidationError> {
    value.parse::<Date>().map_err(|_| {
        ValidationError::new(
            field,
            format!(
                "`{}` is not a date (YYYY-MM-DD)",
                crate::validation::clip(value, 40)
            ),
        )
    })
}

fn start_of(date: Date, tz: &TimeZone, field: &str) -> Result<UnixMillis, ValidationError> {
    date.to_zoned(tz.clone())
        .map(|zoned| UnixMillis(zoned.timestamp().as_millisecond()))
        .map_err(|e| ValidationError::new(field, format!("has no start in that zone: {e}")))
}

impl ReportPeriod {
    /// The days `from` through `until` (`YYYY-MM-DD`, both included; each defaults to today) in the
    /// zone named `time_zone`. Reversed periods and periods over [`MAX_REPORT_DAYS`] are refused.
    pub fn parse(
        from: Option<&str>,
        until: Option<&str>,
        time_zone_name: &str,
        now: UnixMillis,
    ) -> Result<Self, ValidationError> {
        let tz = time_zone("timeZone", time_zone_name)?;
        let today = Self::day_in(&tz, now);
        let from = from.map(|v| day("from", v)).transpose()?.unwrap_or(today);
        let until = until.map(|v| day("until", v)).transpose()?.unwrap_or(today);
        if until < from {
            return Err(ValidationError::new(
                "until",
                format!("{until} is before `from` ({from})"),
            ));
        }
        let days = from
            .until(until)
            .map(|span| i64::from(span.get_days()) + 1)
            .unwrap_or(i64::MAX);
        if days > MAX_REPORT_DAYS {
            return Err(ValidationError::new(
                "until",
                format!("the period is {days} days; a report covers at most {MAX_REPORT_DAYS}"),
            ));
        }
        let after = until
            .tomorrow()
            .map_err(|_| ValidationError::new("until", "is the last day there is"))?;
        Ok(Self {
            start: start_of(from, &tz, "from")?,
            end: start_of(after, &tz, "until")?,
            time_zone: tz,
            time_zone_name: time_zone_name.to_owned(),
            from,
            until,
        })
    }

    /// Today in the zone.
    pub fn today(time_zone_name: &str, now: UnixMillis) -> Result<Self, ValidationError> {
        Self::parse(None, None, time_zone_name, now)
    }

    pub(crate) fn day_in(tz: &TimeZone, at: UnixMillis) -> Date {
        jiff::Timestamp::from_millisecond(at.0)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(tz.clone())
            .date()
    }

    /// The local date (`YYYY-MM-DD`) of a moment.
    pub fn day_of(&self, at: UnixMillis) -> String {
        Self::day_in(&self.time_zone, at).to_string()
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> Vec<String> {
        let mut days = Vec::new();
        let mut day = self.from;
        while day <= self.until {
            days.push(day.to_string());
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        days
    }

    pub fn from(&self) -> String {
        self.from.to_string()
    }

    pub fn until(&self) -> String {
        self.until.to_string()
    }

    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }
}

/// How the service level is measured: answered within `answer_within` of `offered`, callers who
/// hung up before `short_abandon` not counted at all (they did not wait long enough to be served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLevelRule {
    pub answer_within_millis: i64,
    pub short_abandon_millis: i64,
}

impl Default for ServiceLevelRule {
    fn default() -> Self {
        Self {
            answer_within_millis: 20_000,
            short_abandon_millis: 5_000,
        }
    }
}

/// The business's clock and measure: the zone its days are in and its service-level rule. The store
/// keeps its daily sums by these; reports in this zone read those sums.
#[derive(Debug, Clone)]
pub struct ReportRules {
    time_zone: TimeZone,
    time_zone_name: String,
    pub service_level: ServiceLevelRule,
}

impl Default for ReportRules {
    fn default() -> Self {
        Self::new(DEFAULT_TIME_ZONE, ServiceLevelRule::default()).unwrap_or_else(|_| Self {
            time_zone: TimeZone::UTC,
            time_zone_name: "UTC".into(),
            service_level: ServiceLevelRule::default(),
        })
    }
}

impl ReportRules {
    pub fn new(
        time_zone_name: &str,
        service_level: ServiceLevelRule,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            time_zone: time_zone("timeZone", time_zone_name)?,
            time_zone_name: time_zone_name.to_owned(),
            service_level,
        })
    }

    /// The local date (`YYYY-MM-DD`) of a moment, in the business's zone.
    pub fn day_of(&self, at: UnixMillis) -> String {
        ReportPeriod::day_in(&self.time_zone, at).to_string()
    }

    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }

    /// What the store's daily sums were made with: when it changes they are made again.
    pub fn fingerprint(&self) -> String {
        format!(
            "{} {} {}",
            self.time_zone_name,
            self.service_level.answer_within_millis,
            self.service_level.short_abandon_millis
        )
    }
}

/// Raw counts and sums of inbound calls in one group, as the store adds them up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTally {
    /// Inbound calls that started.
    pub offered: i64,
    pub answered: i64,
    /// Ended without an answer.
    pub abandoned: i64,
    /// Abandoned before the rule's `short_abandon`.
    pub short_abandoned: i64,
    /// Answered within the rule's `answer_within`.
    pub answered_in_time: i64,
    /// Still waiting, and not yet for longer than `answer_within`: not decided either way.
    pub waiting_in_time: i64,
    /// Sum over answered calls of the wait until the answer.
    pub answer_millis: i64,
    /// Answered calls that ended (their talk is known).
    pub handled: i64,
    /// Sum over handled calls of the talk.
    pub handle_millis: i64,
    /// Offers that rang out without an answer.
    pub ring_outs: i64,
    /// Calls the agents placed.
    pub outbound: i64,
}

impl CallTally {
    /// One call that ended: what it adds to its group's sums.
    pub fn of_finished(
        inbound: bool,
        started: UnixMillis,
        answered: Option<UnixMillis>,
        ended: UnixMillis,
        rule: ServiceLevelRule,
    ) -> Self {
        if !inbound {
            return Self {
                outbound: 1,
                ..Self::default()
            };
        }
        match answered {
            Some(answered) => {
                let wait = answered.0 - started.0;
                Self {
                    offered: 1,
                    answered: 1,
                    answered_in_time: i64::from(wait <= rule.answer_within_millis),
                    answer_millis: wait,
                    handled: 1,
                    handle_millis: ended.0 - answered.0,
                    ..Self::default()
                }
            }
            None => Self {
                offered: 1,
                abandoned: 1,
                short_abandoned: i64::from(ended.0 - started.0 < rule.short_abandon_millis),
                ..Self::default()
            },
        }
    }

    pub fn add(&mut self, other: &CallTally) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.short_abandoned += other.short_abandoned;
        self.answered_in_time += other.answered_in_time;
        self.waiting_in_time += other.waiting_in_time;
        self.answer_millis += other.answer_millis;
        self.handled += other.handled;
        self.handle_millis += other.handle_millis;
        self.ring_outs += other.ring_outs;
        self.outbound += other.outbound;
    }

    /// The figures people read.
    pub fn figures(&self) -> CallFigures {
        let seconds = |millis: i64, count: i64| {
            (count > 0).then(|| (millis as f64 / count as f64 / 100.0).round() / 10.0)
        };
        // Decided calls: answered, abandoned after waiting, or waiting past the threshold already.
        let measured = self.offered - self.short_abandoned - self.waiting_in_time;
        CallFigures {
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            short_abandoned: self.short_abandoned,
            average_speed_of_answer: seconds(self.answer_millis, self.answered),
            service_level: (measured > 0).then(|| {
                (self.answered_in_time as f64 / measured as f64 * 1000.0).round() / 1000.0
            }),
            average_handle_time: seconds(self.handle_millis, self.handled),
            ring_outs: self.ring_outs,
            outbound: self.outbound,
        }
    }
}

/// One group's call figures (or the total's).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallFigures {
    /// Inbound calls that reached the call center.
    #[schema(example = 120)]
    pub offered: i64,
    #[schema(example = 111)]
    pub answered: i64,
    /// Callers who hung up before an agent answered.
    #[schema(example = 9)]
    pub abandoned: i64,
    /// Of those, the ones who hung up within the short-abandon threshold (not in the service level).
    #[schema(example = 2)]
    pub short_abandoned: i64,
    /// Mean seconds from the call's start to its answer; `null` when none was answered.
    #[schema(example = 8.4)]
    pub average_speed_of_answer: Option<f64>,
    /// Answered within the threshold ÷ (offered − short abandons − callers still inside the
    /// threshold), 0–1; `null` when no call counts yet.
    #[schema(example = 0.874, minimum = 0.0, maximum = 1.0)]
    pub service_level: Option<f64>,
    /// Mean seconds of talk of answered calls that ended; `null` when none did.
    #[schema(example = 142.5)]
    pub average_handle_time: Option<f64>,
    /// Offers that rang out at an agent without an answer.
    #[schema(example = 4)]
    pub ring_outs: i64,
    /// Calls agents placed.
    #[schema(example = 15)]
    pub outbound: i64,
}

/// The median of `values` in seconds (one decimal), `None` when there are none.
pub fn median_seconds(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let middle = values.len() / 2;
    let millis = if values.len() % 2 == 1 {
        values[middle] as f64
    } else {
        (values[middle - 1] as f64 + values[middle] as f64) / 2.0
    };
    Some((millis / 100.0).round() / 10.0)
}

/// A group's conversations, as the store's rows add up: counts, and each conversation's first response
/// and resolution time (medians are taken over these).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatTally {
    /// Conversations in which the customer wrote during the period (per agent: in which they wrote).
    pub conversations: i64,
    pub messages_in: i64,
    pub messages_out: i64,
    /// Milliseconds from the customer's first message of the period to the first answer after it.
    pub first_responses: Vec<i64>,
    /// Milliseconds from the customer's first message of the period to the conversation's resolution.
    pub resolutions: Vec<i64>,
}

impl ChatTally {
    pub fn add(&mut self, other: &ChatTally) {
        self.conversations += other.conversations;
        self.messages_in += other.messages_in;
        self.messages_out += other.messages_out;
        self.first_responses
            .extend_from_slice(&other.first_responses);
        self.resolutions.extend_from_slice(&other.resolutions);
    }

    pub fn figures(&self) -> ChatFigures {
        ChatFigures {
            conversations: self.conversations,
            messages_in: self.messages_in,
            messages_out: self.messages_out,
            responded: self.first_responses.len() as i64,
            median_first_response: median_seconds(&mut self.first_responses.clone()),
            resolved: self.resolutions.len() as i64,
            median_resolution: median_seconds(&mut self.resolutions.clone()),
        }
    }
}

/// One group's conversation figures (or the total's).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatFigures {
    /// Per page: conversations in which the customer wrote in the period; per agent: in which the agent did.
    #[schema(example = 42)]
    pub conversations: i64,
    #[schema(example = 310)]
    pub messages_in: i64,
    #[schema(example = 280)]
    pub messages_out: i64,
    /// Conversations whose customer had an answer (per agent: answered first by the agent).
    #[schema(example = 40)]
    pub responded: i64,
    /// Median seconds from the customer's first message of the period to the first answer; `null` for none.
    #[schema(example = 95.5)]
    pub median_first_response: Option<f64>,
    /// Conversations resolved in the period (per agent: by the agent).
    #[schema(example = 31)]
    pub resolved: i64,
    /// Median seconds from the customer's first message of the period to the resolution; `null` for none.
    #[schema(example = 1800.0)]
    pub median_resolution: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HCM: &str = "Asia/Ho_Chi_Minh";

    fn at(rfc3339: &str) -> UnixMillis {
        UnixMillis::parse_rfc3339(rfc3339).expect("a time")
    }

    #[test]
    fn a_day_is_the_businesss_day_not_utcs() {
        let period =
            ReportPeriod::parse(Some("2026-12-05"), Some("2026-12-05"), HCM, UnixMillis(0))
                .unwrap();
        assert_eq!(period.start, at("2026-12-04T17:00:00Z"));
        assert_eq!(period.end, at("2026-12-05T17:00:00Z"));
        assert_eq!(period.day_of(at("2026-12-04T17:30:00Z")), "2026-12-05");
        assert_eq!(period.day_of(at("2026-12-04T16:59:59Z")), "2026-12-04");
        assert_eq!(period.days(), ["2026-12-05"]);
    }

    #[test]
    fn both_ends_default_to_today_in_the_zone() {
        // 23:30 UTC on the 6th is already the 7th in Hồ Chí Minh City.
        let period = ReportPeriod::today(HCM, at("2026-12-06T23:30:00Z")).unwrap();
        assert_eq!(
            (period.from(), period.until()),
            ("2026-12-07".into(), "2026-12-07".into())
        );
    }

    #[test]
    fn a_day_with_a_clock_change_is_as_long_as_it_is() {
        let period = ReportPeriod::parse(
            Some("2026-03-29"),
            Some("2026-03-29"),
            "Europe/Paris",
            UnixMillis(0),
        )
        .unwrap();
        assert_eq!(period.end.0 - period.start.0, 23 * 3_600_000);
    }

    #[test]
    fn bad_periods_and_zones_are_refused_naming_the_field() {
        let refused = |from, until, tz| {
            ReportPeriod::parse(Some(from), Some(until), tz, UnixMillis(0))
                .unwrap_err()
                .field
        };
        assert_eq!(refused("2026-12-05", "2026-12-04", HCM), "until");
        assert_eq!(refused("2025-01-01", "2026-01-02", HCM), "until");
        assert_eq!(refused("2026-13-01", "2026-12-04", HCM), "from");
        assert_eq!(refused("2026-12-01", "yesterday", HCM), "until");
        assert_eq!(
            refused("2026-12-01", "2026-12-04", "Asia/Saigon City"),
            "timeZone"
        );
        assert_eq!(
            refused("2026-12-01", "2026-12-04", "../../etc/passwd"),
            "timeZone"
        );
        // A whole leap year is one report.
        assert!(
            ReportPeriod::parse(Some("2028-01-01"), Some("2028-12-31"), HCM, UnixMillis(0)).is_ok()
        );
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median_seconds(&mut []), None);
        assert_eq!(median_seconds(&mut [3_000, 1_000, 90_000]), Some(3.0));
        assert_eq!(median_seconds(&mut [1_000, 2_000]), Some(1.5));
        let tally = ChatTally {
            conversations: 2,
            messages_in: 5,
            messages_out: 3,
            first_responses: vec![60_000],
            resolutions: vec![],
        };
        let figures = tally.figures();
        assert_eq!(
            (figures.responded, figures.median_first_response),
            (1, Some(60.0))
        );
        assert_eq!((figures.resolved, figures.median_resolution), (0, None));
    }

    #[test]
    fn a_finished_call_adds_what_the_store_would_sum_for_it() {
        let rule = ServiceLevelRule::default();
        let answered = CallTally::of_finished(
            true,
            UnixMillis(0),
            Some(UnixMillis(20_000)),
            UnixMillis(80_000),
            rule,
        );
        assert_eq!(
            (
                answered.answered_in_time,
                answered.answer_millis,
                answered.handle_millis
            ),
            (1, 20_000, 60_000)
        );
        let short = CallTally::of_finished(true, UnixMillis(0), None, UnixMillis(4_999), rule);
        assert_eq!((short.abandoned, short.short_abandoned), (1, 1));
        let out = CallTally::of_finished(false, UnixMillis(0), None, UnixMillis(9), rule);
        assert_eq!((out.offered, out.outbound), (0, 1));
        let rules = ReportRules::new(HCM, rule).unwrap();
        assert_eq!(rules.day_of(at("2026-12-04T17:00:00Z")), "2026-12-05");
        assert!(ReportRules::new("Nowhere/Land", rule).is_err());
    }

    #[test]
    fn the_service_level_leaves_out_short_abandons_and_callers_still_inside_the_threshold() {
        let tally = CallTally {
            offered: 10,
            answered: 6,
            abandoned: 3,
            short_abandoned: 1,
            answered_in_time: 5,
            waiting_in_time: 1,
            answer_millis: 6 * 12_000,
            handled: 4,
            handle_millis: 4 * 90_500,
            ring_outs: 2,
            outbound: 1,
        };
        let figures = tally.figures();
        assert_eq!(figures.service_level, Some(0.625)); // 5 / (10 - 1 - 1)
        assert_eq!(figures.average_speed_of_answer, Some(12.0));
        assert_eq!(figures.average_handle_time, Some(90.5));
        let empty = CallTally::default().figures();
        assert_eq!(
            (empty.service_level, empty.average_speed_of_answer),
            (None, None)
        );
    }
}
