//! The dispatcher task: drains the engine's lane, applies the [`Policy`], and fans each message
//! out to the channel workers, each through its own bounded lane and throttle. It also applies
//! config reloads and, on shutdown, drains everything it can within the deadline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::alert::{Alert, Priority};
use super::channels::{
    AlertChannel, ChatWebhookChannel, ConsoleChannel, EmailChannel, FileChannel, SmsChannel, TelegramChannel,
    WebhookChannel,
};
use super::config::AlertsConfig;
use super::counters::{AlertCountersSnapshot, ChannelCounters, Counters, bump};
use super::dead_letter::DeadLetter;
use super::error::AlertError;
use super::heartbeat::spawn_heartbeat;
use super::lane::{Lane, Pushed, Wake};
use super::notification::{Notice, Notification};
use super::outbox::{AlertOutbox, is_local_channel, new_outbox_id};
use super::policy::{Delivery, Held, Policy, PolicySettings, Throttle};
use super::sender::{AlertSender, Inbox};
use super::silence::SilenceBook;
use super::worker::Worker;
use crate::clock::{Clock, SystemClock, Timestamp};

/// How often the dispatcher collects non-critical alerts that did not wake it. Critical alerts
/// and a half-full queue wake it at once; so does the first alert after a tick that found nothing
/// (the dispatcher then waits without the tick: an idle daemon is not woken 20 times a second).
const HANDOFF_TICK: Duration = Duration::from_millis(50);

/// Builds and starts the alert system.
///
/// ```no_run
/// # async fn demo(config: whale_trader::alerts::AlertsConfig) -> Result<(), whale_trader::alerts::AlertError> {
/// use whale_trader::alerts::{Alert, AlertsBuilder, Priority};
/// use whale_trader::clock::Timestamp;
/// let shutdown = tokio_util::sync::CancellationToken::new();
/// let alerts = AlertsBuilder::new(config, "logs").spawn(shutdown.clone())?;
/// let sender = alerts.sender();
/// sender.raise(Alert::new(Priority::Warning, "Feed stale", "no trades for 5 min", Timestamp::from_millis(0)));
/// shutdown.cancel();
/// alerts.join().await;
/// # Ok(()) }
/// ```
pub struct AlertsBuilder {
    config: AlertsConfig,
    log_dir: PathBuf,
    progress: Option<watch::Receiver<u64>>,
    extra: Vec<(Arc<dyn AlertChannel>, Priority)>,
    outbox: Option<Arc<dyn AlertOutbox>>,
    silences: Option<Arc<Mutex<SilenceBook>>>,
}

/// The running alert system: raise through [`AlertsHandle::sender`], read counters, reload.
pub struct AlertsHandle {
    sender: AlertSender,
    config: watch::Sender<AlertsConfig>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
    heartbeat: Option<JoinHandle<()>>,
}

impl AlertsBuilder {
    /// `log_dir` anchors the relative paths of `file.path` and `dead_letter_file`.
    pub fn new(config: AlertsConfig, log_dir: impl Into<PathBuf>) -> Self {
        Self { config, log_dir: log_dir.into(), progress: None, extra: Vec::new(), outbox: None, silences: None }
    }

    /// Records critical alerts bound for a remote channel, and their delivery (see [`AlertOutbox`]).
    pub fn outbox(mut self, outbox: Arc<dyn AlertOutbox>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// The silences in force, shared with the control path that adds and ends them: the
    /// dispatcher holds back what they match before any policy or throttle sees it.
    pub fn silences(mut self, book: Arc<Mutex<SilenceBook>>) -> Self {
        self.silences = Some(book);
        self
    }

    /// The engine's progress counter; with `[alerts.heartbeat]` enabled, pings go out only while
    /// it advances.
    pub fn engine_progress(mut self, progress: watch::Receiver<u64>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// An extra channel beside the configured ones, kept across reloads (also used by tests).
    pub fn channel(mut self, channel: Arc<dyn AlertChannel>, min_priority: Priority) -> Self {
        self.extra.push((channel, min_priority));
        self
    }

    /// Starts the dispatcher, its channel workers and the heartbeat. Needs a tokio runtime.
    /// Fails only when an enabled channel cannot be built (validation catches that earlier).
    pub fn spawn(self, shutdown: CancellationToken) -> Result<AlertsHandle, AlertError> {
        let counters = Arc::new(Counters::default());
        let inbox = Arc::new(Inbox {
            lane: Lane::new(self.config.queue_capacity, Wake::Batched),
            counters: Arc::clone(&counters),
        });
        let client = http_client()?;
        let dead_letter = Arc::new(DeadLetter::new(resolve(&self.log_dir, &self.config.dead_letter_file)));
        let (config_tx, config_rx) = watch::channel(self.config.clone());
        let mut dispatcher = Dispatcher {
            settings: PolicySettings::from_config(&self.config),
            policy: Policy::new(PolicySettings::from_config(&self.config)),
            config: self.config.clone(),
            inbox: Arc::clone(&inbox),
            counters: Arc::clone(&counters),
            slots: Vec::new(),
            retired: Vec::new(),
            dead_letter,
            log_dir: self.log_dir,
            client: client.clone(),
            hurry: CancellationToken::new(),
            clock: TokioClock::start(),
            outbox: self.outbox,
            silences: self.silences,
        };
        for spec in build_channels(&self.config, &dispatcher.log_dir, &client)? {
            dispatcher.add_slot(spec, Throttle::default());
        }
        for (channel, min_priority) in self.extra {
            let spec = ChannelSpec { channel, min_priority, raw: false, builtin: false, announces: false };
            dispatcher.add_slot(spec, Throttle::default());
        }
        let heartbeat = self.progress.map(|progress| {
            spawn_heartbeat(client, config_rx.clone(), progress, Arc::clone(&counters), shutdown.clone())
        });
        if heartbeat.is_none() && self.config.heartbeat.enabled {
            tracing::warn!("alerts.heartbeat is enabled but no engine progress signal was given; no heartbeat");
        }
        let task = tokio::spawn(dispatcher.run(shutdown, config_rx));
        Ok(AlertsHandle { sender: AlertSender::new(inbox), config: config_tx, counters, task, heartbeat })
    }
}

impl AlertsHandle {
    /// A handle for raising alerts; clone it into every producer.
    pub fn sender(&self) -> AlertSender {
        self.sender.clone()
    }

    /// Applies a new (validated) configuration: timings at once, changed channels rebuilt.
    pub fn update_config(&self, config: AlertsConfig) {
        self.config.send_replace(config);
    }

    /// The counters for `/metrics` and `status`.
    pub fn counters(&self) -> AlertCountersSnapshot {
        self.counters.snapshot()
    }

    /// Waits until the dispatcher has drained after the shutdown token was cancelled.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the alert dispatcher task failed");
        }
        if let Some(heartbeat) = self.heartbeat
            && let Err(e) = heartbeat.await
        {
            tracing::error!(error = %e, "the heartbeat task failed");
        }
    }
}

fn http_client() -> Result<reqwest::Client, AlertError> {
    reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().map_err(|e| AlertError::InvalidChannel {
        channel: "http",
        field: "client",
        value: String::new(),
        rule: e.to_string(),
    })
}

fn resolve(log_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { log_dir.join(path) }
}

/// One channel to run, as built from the config or given to the builder.
struct ChannelSpec {
    channel: Arc<dyn AlertChannel>,
    min_priority: Priority,
    /// Receives every alert as raised (the file log), bypassing grouping and throttling.
    raw: bool,
    /// Carries trade-signal announcements whatever `min_priority` (`alerts.announce_on`).
    announces: bool,
    /// Built from the config (rebuilt on reload) rather than given to the builder.
    builtin: bool,
}

/// The configured channels, in a fixed order.
fn build_channels(
    config: &AlertsConfig,
    log_dir: &Path,
    client: &reqwest::Client,
) -> Result<Vec<ChannelSpec>, AlertError> {
    let timeout = Duration::from_secs(config.delivery.attempt_timeout_secs.max(1));
    let mut specs = Vec::new();
    let mut add = |channel: Arc<dyn AlertChannel>, min_priority: Priority, raw: bool| {
        let announces = config.announce_on.iter().any(|name| name == channel.name());
        specs.push(ChannelSpec { channel, min_priority, raw, builtin: true, announces });
    };
    if config.console.enabled {
        add(Arc::new(ConsoleChannel), config.console.min_priority, false);
    }
    if config.file.enabled {
        add(
            Arc::new(FileChannel::rotating(
                resolve(log_dir, &config.file.path),
                config.file.max_size_bytes,
                config.file.keep,
            )),
            config.file.min_priority,
            true,
        );
    }
    if config.slack.enabled {
        add(Arc::new(ChatWebhookChannel::slack(client.clone(), &config.slack)), config.slack.min_priority, false);
    }
    if config.discord.enabled {
        add(Arc::new(ChatWebhookChannel::discord(client.clone(), &config.discord)), config.discord.min_priority, false);
    }
    if config.webhook.enabled {
        add(Arc::new(WebhookChannel::new(client.clone(), &config.webhook)?), config.webhook.min_priority, false);
    }
    if config.email.enabled {
        add(Arc::new(EmailChannel::new(&config.email, timeout)?), config.email.min_priority, false);
    }
    if config.sms.enabled {
        add(Arc::new(SmsChannel::new(client.clone(), &config.sms)), config.sms.min_priority, false);
    }
    if config.telegram.enabled {
        add(Arc::new(TelegramChannel::new(client.clone(), &config.telegram)), config.telegram.min_priority, false);
    }
    Ok(specs)
}

/// Whether the settings of built-in channel `name` differ between two configs.
fn channel_changed(name: &str, old: &AlertsConfig, new: &AlertsConfig) -> bool {
    if old.delivery != new.delivery {
        return true;
    }
    match name {
        "console" => old.console != new.console,
        "file" => old.file != new.file,
        "slack" => old.slack != new.slack,
        "discord" => old.discord != new.discord,
        "webhook" => old.webhook != new.webhook,
        "email" => old.email != new.email,
        "sms" => old.sms != new.sms,
        "telegram" => old.telegram != new.telegram,
        _ => false,
    }
}

/// Tokio's clock as a [`Timestamp`]: it follows paused time in tests, and wall time otherwise.
struct TokioClock {
    origin: Instant,
    origin_at: Timestamp,
}

impl TokioClock {
    fn start() -> Self {
        Self { origin: Instant::now(), origin_at: SystemClock.now() }
    }

    fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.origin_at.plus_millis(elapsed)
    }

    fn instant_at(&self, at: Timestamp) -> Instant {
        let ms = u64::try_from(at.millis_since(self.origin_at)).unwrap_or(0);
        self.origin + Duration::from_millis(ms)
    }
}

struct Slot {
    name: String,
    builtin: bool,
    raw: bool,
    min_priority: Priority,
    announces: bool,
    lane: Arc<Lane<Notification>>,
    counters: Arc<ChannelCounters>,
    throttle: Throttle,
    task: JoinHandle<()>,
}

struct Dispatcher {
    config: AlertsConfig,
    settings: PolicySettings,
    policy: Policy,
    inbox: Arc<Inbox>,
    counters: Arc<Counters>,
    slots: Vec<Slot>,
    /// Workers of channels replaced by a reload, still draining their lanes.
    retired: Vec<JoinHandle<()>>,
    dead_letter: Arc<DeadLetter>,
    log_dir: PathBuf,
    client: reqwest::Client,
    hurry: CancellationToken,
    clock: TokioClock,
    outbox: Option<Arc<dyn AlertOutbox>>,
    silences: Option<Arc<Mutex<SilenceBook>>>,
}

impl Dispatcher {
    fn add_slot(&mut self, spec: ChannelSpec, throttle: Throttle) {
        let name = spec.channel.name().to_string();
        let lane = Arc::new(Lane::new(self.config.delivery.channel_queue_capacity, Wake::EveryPush));
        let counters = self.counters.channel(&name);
        let worker = Worker {
            channel: spec.channel,
            lane: Arc::clone(&lane),
            counters: Arc::clone(&counters),
            delivery: self.config.delivery.clone(),
            dead_letter: Arc::clone(&self.dead_letter),
            hurry: self.hurry.clone(),
            outbox: self.outbox.clone().filter(|_| !is_local_channel(&name)),
        };
        let task = tokio::spawn(worker.run());
        self.slots.push(Slot {
            name,
            builtin: spec.builtin,
            raw: spec.raw,
            min_priority: spec.min_priority,
            announces: spec.announces,
            lane,
            counters,
            throttle,
            task,
        });
    }

    async fn run(mut self, shutdown: CancellationToken, mut config: watch::Receiver<AlertsConfig>) {
        let mut batch = Vec::new();
        let mut config_open = true;
        loop {
            // Always look before waiting: a wake-up lost to a `select!` costs nothing this way.
            // Nothing queued parks the lane: the next push wakes us, so the tick can stop.
            let ticking = self.inbox.lane.take_all_or_park(&mut batch);
            let now = self.clock.now();
            for alert in batch.drain(..) {
                self.handle(alert, now);
            }
            for notification in self.policy.flush_due(now) {
                self.fan_out(notification, now);
            }
            self.send_digests(now, false);
            let settings = self.settings;
            let digests = self.slots.iter().filter_map(|s| s.throttle.digest_due_at(&settings));
            let deadline =
                self.policy.next_deadline().into_iter().chain(digests).min().map(|at| self.clock.instant_at(at));
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = self.inbox.lane.wait() => {}
                // Non-critical alerts do not wake the dispatcher (see `lane`): it collects them here,
                // while they keep coming.
                _ = tokio::time::sleep(HANDOFF_TICK), if ticking => {}
                changed = config.changed(), if config_open => match changed {
                    Ok(()) => {
                        let new = config.borrow_and_update().clone();
                        self.reconfigure(new);
                    }
                    Err(_) => config_open = false,
                },
                _ = sleep_until(deadline) => {}
            }
        }
        self.drain().await;
    }

    fn handle(&mut self, alert: Alert, now: Timestamp) {
        let alert = Arc::new(alert);
        for slot in self.slots.iter_mut().filter(|s| s.raw && alert.priority >= s.min_priority) {
            enqueue(slot, Notification { alert: Arc::clone(&alert), notice: Notice::Single });
        }
        // Silenced before grouping and the throttle: it is neither sent nor folded into a digest.
        // The file log above still records it, so nothing is lost from the record.
        if self.silenced(&alert, now) {
            bump(&self.counters.silenced);
            return;
        }
        match self.policy.on_alert(alert, now) {
            Delivery::Send(notification) => {
                if matches!(notification.notice, Notice::Resolved { .. }) {
                    bump(&self.counters.resolved);
                }
                self.fan_out(notification, now);
            }
            Delivery::Hold(Held::Grouped) => bump(&self.counters.grouped),
            Delivery::Hold(Held::Repeat) => bump(&self.counters.repeat_suppressed),
            Delivery::Hold(Held::Halted) => bump(&self.counters.halt_suppressed),
        }
    }

    /// Whether a silence in force holds `alert` back (its hit is counted on the silence).
    fn silenced(&self, alert: &Alert, now: Timestamp) -> bool {
        let Some(book) = &self.silences else { return false };
        let mut book = book.lock().unwrap_or_else(PoisonError::into_inner);
        book.check(alert, now).is_some()
    }

    fn fan_out(&mut self, mut notification: Notification, now: Timestamp) {
        let priority = notification.alert.priority;
        if let Some(outbox) = &self.outbox
            && priority == Priority::Critical
            && notification.alert.outbox_id.is_none()
            && self.slots.iter().any(|s| !s.raw && !is_local_channel(&s.name) && priority >= s.min_priority)
        {
            // Written before any channel sees it; marked delivered by the first remote channel.
            let id = new_outbox_id(notification.alert.at);
            outbox.enqueued(&id, &notification.alert);
            notification.alert = Arc::new(Alert { outbox_id: Some(id), ..(*notification.alert).clone() });
        }
        let announcement = notification.alert.announcement.is_some();
        for slot in
            self.slots.iter_mut().filter(|s| !s.raw && (priority >= s.min_priority || (announcement && s.announces)))
        {
            if slot.throttle.admit(&notification, now, &self.settings) {
                enqueue(slot, notification.clone());
            } else {
                bump(&slot.counters.suppressed);
            }
        }
    }

    /// Each channel's digest of what its throttle held back, when it is due (or all of them, on
    /// shutdown). A digest bound for a remote channel gets an outbox row like a critical alert: a
    /// restart before it is delivered sends it again.
    fn send_digests(&mut self, now: Timestamp, all: bool) {
        let settings = self.settings;
        for slot in self.slots.iter_mut() {
            let digest =
                if all { slot.throttle.take_digest(now) } else { slot.throttle.take_due_digest(now, &settings) };
            let Some(mut notification) = digest else { continue };
            if let Some(outbox) = self.outbox.as_ref().filter(|_| !is_local_channel(&slot.name)) {
                let id = new_outbox_id(now);
                outbox.enqueued(&id, &notification.alert);
                notification.alert = Arc::new(Alert { outbox_id: Some(id), ..(*notification.alert).clone() });
            }
            bump(&slot.counters.digests);
            enqueue(slot, notification);
        }
    }

    fn reconfigure(&mut self, new: AlertsConfig) {
        self.settings = PolicySettings::from_config(&new);
        self.policy.update(self.settings);
        self.inbox.lane.set_capacity(new.queue_capacity);
        self.dead_letter.set_path(resolve(&self.log_dir, &new.dead_letter_file));
        let specs = match build_channels(&new, &self.log_dir, &self.client) {
            Ok(specs) => specs,
            Err(error) => {
                tracing::error!(%error, "alert channels not reloaded; keeping the previous ones");
                return;
            }
        };
        let old = std::mem::replace(&mut self.config, new);
        // Retire built-in channels that changed or were disabled, keeping their throttle state.
        let mut throttles = Vec::new();
        let mut kept = Vec::new();
        for slot in std::mem::take(&mut self.slots) {
            let wanted = specs.iter().any(|s| s.channel.name() == slot.name);
            if slot.builtin && (!wanted || channel_changed(&slot.name, &old, &self.config)) {
                slot.lane.close();
                throttles.push((slot.name, slot.throttle));
                self.retired.push(slot.task);
            } else {
                kept.push(slot);
            }
        }
        for slot in kept.iter_mut().filter(|s| s.builtin) {
            slot.announces = self.config.announce_on.contains(&slot.name);
        }
        self.slots = kept;
        for spec in specs {
            if self.slots.iter().any(|s| s.builtin && s.name == spec.channel.name()) {
                continue;
            }
            let name = spec.channel.name().to_string();
            let throttle =
                throttles.iter().position(|(n, _)| *n == name).map(|i| throttles.swap_remove(i).1).unwrap_or_default();
            self.add_slot(spec, throttle);
        }
        self.retired.retain(|task| !task.is_finished());
        tracing::info!(channels = ?self.slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), "alert config reloaded");
    }

    /// Takes what is still queued, sends every open group's count, lets the workers deliver
    /// until `drain_timeout_secs`, then makes them dead-letter the rest.
    async fn drain(mut self) {
        self.inbox.lane.close();
        let mut batch = Vec::new();
        self.inbox.lane.take_all(&mut batch);
        let now = self.clock.now();
        for alert in batch {
            self.handle(alert, now);
        }
        for notification in self.policy.flush_all() {
            self.fan_out(notification, now);
        }
        self.send_digests(now, true);
        let mut tasks = std::mem::take(&mut self.retired);
        for slot in self.slots.drain(..) {
            slot.lane.close();
            tasks.push(slot.task);
        }
        let mut all = std::pin::pin!(futures::future::join_all(tasks));
        let grace = Duration::from_secs(self.config.delivery.drain_timeout_secs);
        if tokio::time::timeout(grace, &mut all).await.is_err() {
            tracing::warn!("alert channels did not drain in time; dead-lettering what is left");
            self.hurry.cancel();
            all.await;
        }
    }
}

fn enqueue(slot: &mut Slot, notification: Notification) {
    match slot.lane.push(notification) {
        Pushed::Queued => bump(&slot.counters.queued),
        Pushed::DroppedOldest(_) => {
            bump(&slot.counters.queued);
            bump(&slot.counters.dropped);
        }
        Pushed::Closed(_) => bump(&slot.counters.dropped),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
