//! The engine stepped in a plain loop with a simulated clock and a simulated executor: what a
//! recorded session (see [`crate::session`]), a test or a benchmark drives. Timer ticks fall on a
//! one-second grid of simulated time, so that runs of one input sequence agree tick for tick.

use rust_decimal::Decimal;

use crate::clock::{SimClock, Timestamp};
use crate::domain::TradingState;
use crate::risk::Approved;

use super::core::Engine;
use super::executor::{Executor, MarketView};
use super::io::{EngineEvent, ExecutionReport, Input, Outputs};

/// Simulated time between two timer ticks (breaker cooldown, staleness, day roll-over).
pub const TICK_EVERY_MS: i64 = 1_000;

/// The longest quiet stretch between two events that is replayed tick by tick. A longer gap keeps
/// only its last day of ticks, the way a daemon sees its clock jump after its host slept: a day
/// covers every cooldown, staleness limit and day roll-over, and a line dated decades ahead
/// cannot make a replay tick for hours.
pub const MAX_TICKED_GAP_MS: i64 = 86_400_000;

/// The first timer tick to replay before an event at `at`, given the tick `next` due on the
/// schedule: `next` itself, or, across a gap longer than [`MAX_TICKED_GAP_MS`], the first tick
/// of the gap's last day (on the same one-second grid, so runs of one file agree tick for tick).
pub(crate) fn first_tick_before(next: Timestamp, at: Timestamp) -> Timestamp {
    let gap = at.millis_since(next);
    if gap <= MAX_TICKED_GAP_MS {
        return next;
    }
    // Whole ticks skipped, rounded up so that no more than the last day is ticked.
    let skipped_ticks = (gap - MAX_TICKED_GAP_MS + TICK_EVERY_MS - 1) / TICK_EVERY_MS;
    next.plus_millis(skipped_ticks * TICK_EVERY_MS)
}

/// What a replayed session did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayReport {
    pub lines: u64,
    pub malformed_lines: u64,
    /// Book lines whose book was refused (counted per cause in the refusals' tally).
    pub books_refused: u64,
    pub inputs: u64,
    pub order_intents: u64,
    pub whale_trades_seen: u64,
    pub trades_opened: u64,
    pub trades_closed: u64,
    pub trades_rejected: u64,
    pub realised_pnl_usd: Decimal,
    pub open_positions: usize,
    pub final_state: TradingState,
    pub last_event_at: Option<Timestamp>,
    /// Daemon feed only: messages of the session already applied before a restart, of which the
    /// market data went in again as warm-up.
    pub resumed_after: Option<u64>,
    pub warmed_up: u64,
}

/// The engine and a simulated executor, stepped in a plain loop: each input, then every order it
/// produced is executed at once and the reports go straight back in. No channel, no task.
pub struct SimulatedRun<E: Executor> {
    pub engine: Engine,
    pub executor: E,
    pub clock: SimClock,
    out: Outputs,
    pending_intents: Vec<Approved>,
    reports: Vec<ExecutionReport>,
    next_tick: Option<Timestamp>,
    /// The session carries the daemon's own timer ticks (a recording): no others are made up.
    recorded_ticks: bool,
    pub order_intents: u64,
    /// Also keep every event of every step (tests); off for throughput.
    pub keep_events: bool,
    pub events: Vec<EngineEvent>,
}

impl<E: Executor> SimulatedRun<E> {
    pub fn new(engine: Engine, executor: E, start: Timestamp) -> Self {
        Self {
            engine,
            executor,
            clock: SimClock::starting_at(start),
            out: Outputs::new(),
            pending_intents: Vec::new(),
            reports: Vec::new(),
            next_tick: None,
            recorded_ticks: false,
            order_intents: 0,
            keep_events: false,
            events: Vec::new(),
        }
    }

    /// Timer ticks for every whole second of simulated time up to `at` (of a long gap, its last day).
    fn tick_until(&mut self, at: Timestamp) {
        let mut next = first_tick_before(self.next_tick.unwrap_or(at), at);
        while next <= at {
            self.clock.set(next);
            self.step(Input::Tick, next);
            next = next.plus_millis(TICK_EVERY_MS);
        }
        self.next_tick = Some(next);
    }

    /// Feeds one input at `at` (timer ticks first) and executes every order it produced; the events
    /// are kept in [`SimulatedRun::events`] when `keep_events` is set.
    pub fn feed(&mut self, at: Timestamp, input: Input) {
        if !self.recorded_ticks {
            self.tick_until(at);
        }
        self.clock.set(at);
        self.step(input, at);
    }

    /// The session's own `tick` lines are the only timer ticks: a recording replays the ticks the
    /// daemon's timer made, at the times it made them, instead of a grid of its own.
    pub fn use_recorded_ticks(&mut self) {
        self.recorded_ticks = true;
    }

    /// When the next timer tick is due (`None` before the first input).
    pub fn next_tick(&self) -> Option<Timestamp> {
        self.next_tick
    }

    /// Continues the tick schedule of an earlier run (a run resumed from a checkpoint).
    pub fn resume_ticks_at(&mut self, next_tick: Option<Timestamp>) {
        self.next_tick = next_tick;
    }

    /// Feeds one input without timer ticks (benchmarks drive the price path alone).
    pub fn feed_untimed(&mut self, at: Timestamp, input: Input) {
        self.clock.set(at);
        self.step(input, at);
    }

    fn step(&mut self, input: Input, now: Timestamp) {
        self.out.clear();
        self.engine.process(input, now, &mut self.out);
        if !self.out.cancels.is_empty() {
            self.executor.cancel(&self.out.cancels, now, &mut self.reports);
            self.out.cancels.clear();
        }
        self.collect();
        // Execute every order at once; fills can trigger more orders (a fill that trips a limit).
        while !self.pending_intents.is_empty() || !self.reports.is_empty() {
            let intents = std::mem::take(&mut self.pending_intents);
            for order in &intents {
                let intent = order.order();
                let market =
                    MarketView { book: self.engine.book(intent.token), rules: self.engine.venue_rules(intent.market) };
                self.executor.submit(order, market, now, &mut self.reports);
            }
            self.pending_intents = intents;
            self.pending_intents.clear();
            let reports = std::mem::take(&mut self.reports);
            for report in &reports {
                self.engine.process(Input::Execution(report.clone()), now, &mut self.out);
            }
            self.reports = reports;
            self.reports.clear();
            self.collect();
        }
    }

    fn collect(&mut self) {
        if self.out.intents.is_empty() && !self.keep_events {
            self.out.events.clear();
            return;
        }
        self.order_intents += self.out.intents.len() as u64;
        self.pending_intents.append(&mut self.out.intents);
        if self.keep_events {
            self.events.append(&mut self.out.events);
        } else {
            self.out.events.clear();
        }
    }

    pub fn report(&self, lines: u64, malformed_lines: u64, books_refused: u64) -> ReplayReport {
        let status = self.engine.status();
        ReplayReport {
            lines,
            malformed_lines,
            books_refused,
            inputs: status.inputs_processed,
            order_intents: self.order_intents,
            whale_trades_seen: status.whale_trades_seen,
            trades_opened: status.trades_opened,
            trades_closed: status.trades_closed,
            trades_rejected: status.trades_rejected,
            realised_pnl_usd: status.realised_pnl_usd,
            open_positions: status.open_positions,
            final_state: status.trading_state,
            last_event_at: status.last_input_at,
            resumed_after: None,
            warmed_up: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_767_607_200_000);

    #[test]
    fn a_gap_up_to_a_day_is_ticked_whole() {
        let at = T0.plus_millis(MAX_TICKED_GAP_MS);
        assert_eq!(first_tick_before(T0, at), T0);
        assert_eq!(first_tick_before(T0, T0.plus_millis(-5)), T0, "an event before the next tick skips nothing");
    }

    #[test]
    fn a_longer_gap_keeps_its_last_day_on_the_same_grid() {
        let at = T0.plus_millis(30 * MAX_TICKED_GAP_MS + 1_500);
        let first = first_tick_before(T0, at);
        assert_eq!(first.millis_since(T0) % TICK_EVERY_MS, 0, "ticks stay on the one-second grid");
        assert!(at.millis_since(first) <= MAX_TICKED_GAP_MS);
        assert!(at.millis_since(first) > MAX_TICKED_GAP_MS - TICK_EVERY_MS);
    }
}
