//! Headwater's browser tracker, started by its glue (`js/tracker.js`) once the
//! WebAssembly is compiled. The glue listens to the page and moves facts across;
//! every decision is made here.
//!
//! - [`browser`]: what the glue offers: the browser's few facilities, none of
//!   which can throw into the page.
//! - [`exports`]: what the glue calls: the page's events, the site's
//!   configuration, the site's `headwater(...)` calls and the collector's answers.
//! - [`tracker`]: the state on a page, how events are made, and what the site and
//!   the visitor allow (consent, Do Not Track).
//! - [`page`]: page views (single-page navigation included), engaged time, scroll
//!   depth, time-on-page and scroll-depth behaviours.
//! - [`interactions`]: clicks on configured behaviours, outbound links, downloads,
//!   the site's own forms, exit intent.
//! - [`forms`]: Headwater's forms, inline and as overlays on their triggers.
//! - [`delivery`]: the persistent queue and its batched delivery.
//! - [`config`]: the site's configuration, as the glue hands it over.
//! - [`api`]: the site's `headwater(...)` calls.
//! - [`allocator`]: the module's memory, in power-of-two blocks.
//!
//! Everything runs on the page's main thread in small slices: listeners are passive
//! and do a few field writes; depth is measured and deliveries made once a second.
//! The crate is `no_std` and has no wasm-bindgen: no formatting, panic or binding
//! machinery in what is part of every page view of every customer site.
//!
//! It is built for `wasm32-unknown-unknown` only (`cargo xtask build-web`); on any
//! other target it compiles to nothing, so that `cargo build --workspace` works.

#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg(target_arch = "wasm32")]

extern crate alloc;

mod allocator;
mod api;
mod browser;
mod config;
mod delivery;
mod exports;
mod forms;
mod interactions;
mod page;
mod tracker;

use core::cell::OnceCell;

/// A few hundred bytes of allocator of our own (see [`allocator`]), rather than
/// talc (2 KB of this module's WebAssembly) or dlmalloc, which std would bring.
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator::new();

/// A panic is a bug of ours; it stops the call it happened in (as a WebAssembly
/// trap, which the browser reports) and never the page.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// The tracker of this page, made by the glue's first call.
static TRACKER: PageGlobal = PageGlobal(OnceCell::new());

/// What lives as long as the page: the module's one tracker.
struct PageGlobal(OnceCell<tracker::Shared>);

// SAFETY: WebAssembly without the threads proposal (this crate's only target,
// built without `atomics`) runs on one thread, so the cell is never shared between
// threads.
#[allow(unsafe_code)]
unsafe impl Sync for PageGlobal {}
