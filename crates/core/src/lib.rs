//! Headwater's core: the one implementation of the rules that the browser and the
//! server must agree on.
//!
//! - [`wire`]: what the tracker sends (event batches) and what the form sends
//!   (identification), with their size limits.
//! - [`behaviour`]: behaviours marketers configure (a click on a selector, a page
//!   viewed, time spent or depth reached on a page) and their points.
//! - [`profile`]: the engagement profile built from a visitor's events.
//! - [`session`], [`navigation`], [`delivery`]: the tracker's decisions (when a
//!   session ends, what counts as a new page, which link is outbound or a
//!   download, when to send and when to retry), kept here to be tested as tables.
//! - [`attribution`]: campaign parameters, click ids and referrers as touches.
//! - [`json`]: the tracker's small JSON writer for the wire types.
//! - [`names`]: values by name in a sorted vector, the maps of the wire types and
//!   the profile.
//! - [`form`]: forms as marketers configure them (fields, texts, points, inline or
//!   overlay display with its triggers) and the validation of submitted answers.
//! - [`email`]: e-mail normalisation, free-mail and disposable-domain detection.
//! - [`lead_definition`]: the Universal Lead Definition and its explainable verdict.
//! - [`stage`]: the demand waterfall's stages and the transitions allowed between them.
//!
//! This crate does no I/O: no clock, no randomness, no network, no storage. Callers
//! pass time and ids in, which keeps every rule deterministic and testable.
//!
//! Without its default `std` feature the crate is `no_std` and holds only the
//! modules the tracker needs, so that the tracker's WebAssembly carries none of
//! std's panic and formatting machinery.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod attribution;
pub mod behaviour;
pub mod delivery;
#[cfg(feature = "std")]
pub mod email;
#[cfg(feature = "std")]
pub mod form;
pub mod json;
#[cfg(feature = "std")]
pub mod lead_definition;
pub mod names;
pub mod navigation;
pub mod profile;
pub mod session;
#[cfg(feature = "std")]
pub mod stage;
pub mod wire;

pub use behaviour::{Behaviour, Trigger};
#[cfg(feature = "std")]
pub use form::{FieldError, FieldKind, FormDefinition, FormDisplay, FormField, FormTrigger};
#[cfg(feature = "std")]
pub use lead_definition::{LeadDefinition, Verdict};
pub use names::NameMap;
pub use profile::EngagementProfile;
#[cfg(feature = "std")]
pub use stage::{Role, Stage, StageError};
pub use wire::{Event, EventBatch, EventDetail, Identification};
