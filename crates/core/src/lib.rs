//! Headwater's core: the one implementation of the rules that the browser and the
//! server must agree on.
//!
//! - [`wire`]: what the tracker sends (event batches) and what the form sends
//!   (identification), with their size limits.
//! - [`behaviour`]: behaviours marketers configure (a click on a selector, a page
//!   viewed) and their points.
//! - [`profile`]: the engagement profile built from a visitor's events.
//! - [`form`]: forms as marketers configure them (fields, texts, points, inline or
//!   overlay display with its triggers) and the validation of submitted answers.
//! - [`email`]: e-mail normalisation, free-mail and disposable-domain detection.
//! - [`lead_definition`]: the Universal Lead Definition and its explainable verdict.
//! - [`stage`]: the demand waterfall's stages and the transitions allowed between them.
//!
//! This crate does no I/O: no clock, no randomness, no network, no storage. Callers
//! pass time and ids in, which keeps every rule deterministic and testable.

pub mod behaviour;
pub mod email;
pub mod form;
pub mod lead_definition;
pub mod profile;
pub mod stage;
pub mod wire;

pub use behaviour::{Behaviour, Trigger};
pub use form::{FieldError, FieldKind, FormDefinition, FormDisplay, FormField, FormTrigger};
pub use lead_definition::{LeadDefinition, Verdict};
pub use profile::EngagementProfile;
pub use stage::{Role, Stage, StageError};
pub use wire::{Event, EventBatch, EventDetail, Identification};
