//! Drift alerts posted to a chat's incoming webhook (Slack, Mattermost, Rocket.Chat, or
//! anything that takes a JSON POST).
//!
//! [`message`] turns an [`Alert`] into the bounded JSON body; [`Webhook::post`] sends it, with
//! retries, never following redirects and never showing the URL, which is a credential.

mod message;
mod webhook;

pub use message::{message, Alert, DriftedField, DriftedObject, Status};
pub use webhook::{NotifyError, Webhook};
