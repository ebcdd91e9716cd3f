//! The web app's entry point (built for wasm by Trunk). The same module runs twice: in the
//! page, where it mounts the Leptos UI, and in the training worker (www/worker.js), where it
//! runs the controller.

#[cfg(target_arch = "wasm32")]
fn main() {
    use wasm_bindgen::JsCast;
    if js_sys::global().dyn_ref::<web_sys::Window>().is_some() {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(aeplay::ui::App);
    } else {
        aeplay::worker::start();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app is built for wasm by Trunk: run `make run`");
    std::process::exit(2);
}
