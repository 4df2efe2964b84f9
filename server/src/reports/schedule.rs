//! When the reports are sent: weekly on a configured weekday and hour (UTC), covering the seven
//! days before; monthly on the 1st at that hour, covering the previous calendar month. A
//! period is sent once: under an advisory lock, only when `sent_reports` has no row for it, and
//! the row is committed with the lock held. A failed send leaves no row, so the next step (a
//! few minutes later) tries again; a database that fails right after the mail left would let
//! it be sent again, never lost.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Days, Months, NaiveDate, Timelike, Utc, Weekday};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use super::{Kind, Period, Report, ReportError, Reporting};
use crate::store::{self, Daily, ReadPool, StoreError};
use crate::telemetry::Chain;

/// How often the task looks at the clock.
const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub weekday: Weekday,
    /// UTC, 0-23.
    pub hour: u32,
}

/// The period of `kind` whose time has come by `now`, unless a period ending on or after its
/// end was sent already (`last_sent`). A late step (the server was down at the hour) still
/// sends the latest period, not the ones before it.
pub fn due(
    kind: Kind,
    now: DateTime<Utc>,
    last_sent: Option<NaiveDate>,
    schedule: &Schedule,
) -> Option<Period> {
    let today = now.date_naive();
    let reached = now.hour() >= schedule.hour;
    let period = match kind {
        Kind::Weekly => {
            let back = (7 + today.weekday().num_days_from_monday()
                - schedule.weekday.num_days_from_monday())
                % 7;
            let mut day = today - Days::days(i64::from(back));
            if back == 0 && !reached {
                day -= Days::days(7);
            }
            Period {
                kind,
                from: day - Days::days(7),
                to: day - Days::days(1),
            }
        }
        Kind::Monthly => {
            let mut first = today.with_day(1)?;
            if today.day() == 1 && !reached {
                first = first.checked_sub_months(Months::new(1))?;
            }
            Period {
                kind,
                from: first.checked_sub_months(Months::new(1))?,
                to: first - Days::days(1),
            }
        }
    };
    match last_sent {
        Some(end) if end >= period.to => None,
        _ => Some(period),
    }
}

/// One look at the clock at `now`: sends each report that is due and was not sent, to the
/// configured recipients, and remembers it; returns the periods sent. Another instance
/// sending at the same time makes this one skip that report.
pub async fn step(
    pool: &Pool,
    read: &ReadPool,
    reporting: &Reporting,
    deadline: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Period>, ReportError> {
    let to = reporting.recipients(None)?;
    let mut sent = Vec::new();
    for kind in Kind::ALL {
        let mut client = store::within(deadline, async {
            pool.get().await.map_err(StoreError::from)
        })
        .await?;
        let last = store::within(deadline, store::last_sent(&client, kind.as_str())).await?;
        let Some(period) = due(kind, now, last, &reporting.schedule) else {
            continue;
        };
        let sending = store::begin_sending(&mut client, kind.as_str(), period.from, period.to);
        let Some(sending) = store::within(deadline, sending).await? else {
            continue;
        };
        let report = store::within(deadline, async {
            let daily = Daily::connect(read).await?;
            let dashboard = reporting.dashboard.clone();
            Report::load(&daily, &reporting.products, period, dashboard, now).await
        })
        .await?;
        reporting.send_report(&report, &to).await?;
        let products: Vec<String> = reporting
            .products
            .iter()
            .map(|product| product.name().to_owned())
            .collect();
        store::within(deadline, sending.sent(&products, to.len())).await?;
        tracing::info!(
            kind = kind.as_str(),
            from = %period.from,
            to = %period.to,
            recipients = to.len(),
            "report sent"
        );
        sent.push(period);
    }
    Ok(sent)
}

/// Until `stop`: a step every few minutes (the first at once, for a report that fell due
/// while the server was down). A failed step is logged and tried again at the next.
pub async fn run(
    pool: Pool,
    read: Arc<ReadPool>,
    reporting: Arc<Reporting>,
    deadline: Duration,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {
                let stepped = step(&pool, &read, &reporting, deadline, Utc::now()).await;
                if let Err(error) = stepped {
                    tracing::warn!(error = %Chain(&error), "scheduled report not sent, trying again later");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const MONDAY_AT_8: Schedule = Schedule {
        weekday: Weekday::Mon,
        hour: 8,
    };

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_weekly_report_is_due_from_the_configured_hour_of_the_weekday() {
        // 2026-11-30 is a Monday.
        let due_at = |now| due(Kind::Weekly, now, None, &MONDAY_AT_8).unwrap();
        let this_week = due_at(at(2026, 11, 30, 8));
        assert_eq!(
            (this_week.from, this_week.to),
            (day(2026, 11, 23), day(2026, 11, 29))
        );
        assert_eq!(due_at(at(2026, 12, 3, 17)), this_week);
        let an_hour_early = due_at(at(2026, 11, 30, 7));
        assert_eq!(an_hour_early.to, day(2026, 11, 22));
    }

    #[test]
    fn the_weekly_report_is_not_due_again_once_its_period_was_sent() {
        let now = at(2026, 12, 2, 9);
        assert_eq!(
            due(Kind::Weekly, now, Some(day(2026, 11, 29)), &MONDAY_AT_8),
            None
        );
        let next = due(
            Kind::Weekly,
            at(2026, 12, 7, 8),
            Some(day(2026, 11, 29)),
            &MONDAY_AT_8,
        );
        assert_eq!(next.map(|p| p.to), Some(day(2026, 12, 6)));
    }

    #[test]
    fn the_weekly_report_follows_another_weekday() {
        let friday = Schedule {
            weekday: Weekday::Fri,
            hour: 0,
        };
        let period = due(Kind::Weekly, at(2026, 11, 30, 8), None, &friday).unwrap();
        assert_eq!(
            (period.from, period.to),
            (day(2026, 11, 20), day(2026, 11, 26))
        );
    }

    #[test]
    fn the_monthly_report_covers_the_previous_calendar_month_from_the_first() {
        let december = due(Kind::Monthly, at(2026, 12, 1, 8), None, &MONDAY_AT_8).unwrap();
        assert_eq!(
            (december.from, december.to),
            (day(2026, 11, 1), day(2026, 11, 30))
        );
        let before_the_hour = due(Kind::Monthly, at(2026, 12, 1, 7), None, &MONDAY_AT_8).unwrap();
        assert_eq!(
            (before_the_hour.from, before_the_hour.to),
            (day(2026, 10, 1), day(2026, 10, 31))
        );
        let march = due(Kind::Monthly, at(2027, 3, 20, 0), None, &MONDAY_AT_8).unwrap();
        assert_eq!((march.from, march.to), (day(2027, 2, 1), day(2027, 2, 28)));
        assert_eq!(
            due(
                Kind::Monthly,
                at(2026, 12, 15, 8),
                Some(day(2026, 11, 30)),
                &MONDAY_AT_8
            ),
            None
        );
    }
}
