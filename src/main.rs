//! The web app's entry point: mounts the Leptos UI (built for wasm by Trunk).

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(aeplay::ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app is built for wasm by Trunk: run `make run`");
    std::process::exit(2);
}
