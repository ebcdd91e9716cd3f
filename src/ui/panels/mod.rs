//! The page's panels, one file each; `ui::App` composes them. A panel reads the page's
//! signals (`ui::state`), sends commands (`ui::client`), and holds the canvases that the
//! frames' pictures are drawn on (`ui::draw`).

pub mod cloud;
pub mod gallery;
pub mod inside;
pub mod loss;
pub mod model;
pub mod pad;
pub mod pictures;
pub mod recipe;
pub mod recon;
pub mod runs;
pub mod status_bar;
pub mod topbar;
