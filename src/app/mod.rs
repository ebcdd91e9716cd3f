//! The page's engine, as a library: commands in, frames out.
//!
//! - [`protocol`]: the engine's commands and events (frames among them), and their encoding
//!   for `postMessage`; [`envelope`]: the worker's own messages and the test hooks around
//!   them.
//! - [`frame`]: everything the page draws, as plain data.
//! - [`controller`]: owns the device, the data, the draw pad and one session, and runs the
//!   training loop; [`session`]: what it trains (a single model, a multi-phase recipe, the
//!   3-D cloud scene), each making its own frames.
//! - [`pictures`]: the picture registry ([`pictures::PictureId`]) and the producers of a
//!   model's pictures, made from read-backs.
//! - [`history`]: bounded loss histories and charts as data.
//! - [`catalogue`]: everything the playground can train, for the picker, the gallery, the
//!   URL and the CLI; [`urlstate`]: the page's set-up in its URL; [`viz`]: the host-side
//!   numbers behind the pictures (2-D projections, interpolation, code-plane grids).
//!
//! Nothing here touches the DOM: in the browser the controller runs in a Web Worker
//! (`src/worker/`) and the page (`src/ui/`) only sends commands and draws frames; natively
//! the same code is driven by tests.

pub mod bench;
pub mod catalogue;
pub mod clock;
pub mod controller;
pub mod envelope;
pub mod frame;
pub mod inside;
pub mod quality;
pub mod history;
pub mod pictures;
pub mod protocol;
pub mod session;
pub mod urlstate;
pub mod viz;

/// A count as the page writes it: 60000 → "60,000".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
