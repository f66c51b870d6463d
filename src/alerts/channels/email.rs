//! Email over SMTP with lettre: subject `[CRITICAL] title`, a plain-text body, over
//! STARTTLS (587) or TLS (465) with the certificate checked, and login when a username is set.

use std::path::Path;

use futures::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{AlertChannel, Part};
use crate::alerts::config::{EmailConfig, SmtpSecurity};
use crate::alerts::error::AlertError;
use crate::alerts::format::{email_subject, plain_text_body};
use crate::alerts::notification::Notification;
use crate::plans::format::Medium;

pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

fn invalid(field: &'static str, value: &str, rule: impl ToString) -> AlertError {
    AlertError::InvalidChannel { channel: "email", field, value: value.to_string(), rule: rule.to_string() }
}

/// Certificate checks for `host`: the system's roots, plus the authority in `ca_file` when set.
fn tls_parameters(host: &str, ca_file: &Path) -> Result<TlsParameters, AlertError> {
    let mut builder = TlsParameters::builder(host.to_string());
    if !ca_file.as_os_str().is_empty() {
        let shown = ca_file.display().to_string();
        let pem = std::fs::read(ca_file).map_err(|e| invalid("ca_file", &shown, e))?;
        let authority = Certificate::from_pem(&pem).map_err(|e| invalid("ca_file", &shown, e))?;
        builder = builder.add_root_certificate(authority);
    }
    builder.build().map_err(|e| invalid("smtp_host", host, e))
}

impl EmailChannel {
    pub fn new(config: &EmailConfig, attempt_timeout: std::time::Duration) -> Result<Self, AlertError> {
        let host = config.smtp_host.trim();
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
        let builder = match config.security {
            SmtpSecurity::Starttls => plain.tls(Tls::Required(tls_parameters(host, &config.ca_file)?)),
            SmtpSecurity::Tls => plain.tls(Tls::Wrapper(tls_parameters(host, &config.ca_file)?)),
            SmtpSecurity::Plain => plain,
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(attempt_timeout));
        if !config.username.is_empty() {
            builder =
                builder.credentials(Credentials::new(config.username.clone(), config.password.expose().to_string()));
        }
        let from = config.from.parse::<Mailbox>().map_err(|e| invalid("from", &config.from, e))?;
        let to = config
            .to
            .iter()
            .map(|to| to.parse::<Mailbox>().map_err(|e| invalid("to", to, e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { transport: builder.build(), from, to })
    }

    fn message(&self, part: &Part) -> Result<Message, AlertError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(part.subject.clone().unwrap_or_default())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(part.body.clone())
            .map_err(|e| AlertError::Rejected { channel: "email".into(), reason: e.to_string() })
    }
}

impl AlertChannel for EmailChannel {
    fn name(&self) -> &str {
        "email"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        if let Some(announcement) = &notification.alert.announcement {
            // Plain text is never split: one email holds the whole message.
            let body = announcement.parts(Medium::Plain).join("\n\n");
            return vec![Part { to: None, subject: Some(announcement.subject()), body: format!("{body}\n") }];
        }
        vec![Part { to: None, subject: Some(email_subject(notification)), body: plain_text_body(notification) }]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let message = self.message(part)?;
            match self.transport.send(message).await {
                Ok(_) => Ok(()),
                // A 5xx answer is a permanent refusal; anything else (network, 4xx) may pass later.
                Err(e) if e.is_permanent() => {
                    Err(AlertError::Rejected { channel: "email".into(), reason: e.to_string() })
                }
                Err(e) => {
                    Err(AlertError::Temporary { channel: "email".into(), reason: e.to_string(), retry_after: None })
                }
            }
        })
    }
}
