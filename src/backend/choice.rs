//! Which backend to train on: the page's choice between WebGPU and the WebAssembly CPU path,
//! made from what the adapter is and from a short timed trial of both, with the reason in
//! plain words. Plain data in, plain data out (no GPU, no DOM), so it is tested natively;
//! the page fills [`AdapterFacts`] from the browser's `GPUAdapterInfo` (or from
//! `wgpu::AdapterInfo`), times both backends on the current preset and batch, calls
//! [`choose`], and caches the [`Choice`] under a [`ChoiceKey`].

use serde::{Deserialize, Serialize};

/// What is known of an adapter. Every field may be empty: browsers hide most of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterFacts {
    /// `wgpu::AdapterInfo::name` (natively the device name; in the browser the
    /// description, often empty).
    pub name: String,
    /// `GPUAdapterInfo.vendor` ("google", "nvidia", ...).
    pub vendor: String,
    /// `GPUAdapterInfo.architecture` ("swiftshader", "ampere", ...).
    pub architecture: String,
    /// `GPUAdapterInfo.description`, or natively the driver name.
    pub description: String,
    /// Natively `AdapterInfo::driver_info` (e.g. "Mesa 22.3.6 (LLVM 15.0.6)").
    pub driver: String,
    /// The adapter reports itself as a CPU (`wgpu::DeviceType::Cpu`).
    pub cpu_device_type: bool,
    /// The browser's `isFallbackAdapter` (wgpu maps it to `DeviceType::Cpu`).
    pub is_fallback: bool,
}

impl From<&wgpu::AdapterInfo> for AdapterFacts {
    fn from(i: &wgpu::AdapterInfo) -> Self {
        AdapterFacts {
            name: i.name.clone(),
            vendor: String::new(),
            architecture: String::new(),
            description: i.driver.clone(),
            driver: i.driver_info.clone(),
            cpu_device_type: i.device_type == wgpu::DeviceType::Cpu,
            is_fallback: false,
        }
    }
}

/// Names of software rasterisers that serve WebGPU / Vulkan on the processor.
const SOFTWARE_NAMES: &[(&str, &str)] = &[
    ("swiftshader", "SwiftShader"),
    ("llvmpipe", "llvmpipe"),
    ("lavapipe", "lavapipe"),
    ("warp", "WARP"),
    ("microsoft basic render", "WARP"),
    ("softpipe", "softpipe"),
];

/// What kind of device an adapter is, as far as choosing a backend goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdapterClass {
    /// A real GPU (or nothing says otherwise).
    Hardware,
    /// A CPU emulation of a GPU; `what` names it ("SwiftShader", "a fallback adapter").
    Software { what: String },
}

impl AdapterClass {
    pub fn is_software(&self) -> bool {
        matches!(self, AdapterClass::Software { .. })
    }
}

/// Software when the browser flags a fallback adapter, the device type is CPU, or a field
/// names a known software rasteriser (matched as a whole word: "warp" in "WARP" but not in
/// "warpdrive").
pub fn classify(facts: &AdapterFacts) -> AdapterClass {
    let fields = [&facts.name, &facts.vendor, &facts.architecture, &facts.description, &facts.driver];
    for (needle, what) in SOFTWARE_NAMES {
        if fields.iter().any(|f| contains_word(&f.to_lowercase(), needle)) {
            return AdapterClass::Software { what: (*what).into() };
        }
    }
    if facts.is_fallback {
        return AdapterClass::Software { what: "a fallback adapter".into() };
    }
    if facts.cpu_device_type {
        return AdapterClass::Software { what: "a CPU adapter".into() };
    }
    AdapterClass::Hardware
}

/// `needle` in `hay` with no letter or digit right before or after it.
fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
    })
}

/// The two backends the page can train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// WebGPU (wgpu).
    Gpu,
    /// The WebAssembly SIMD path.
    Cpu,
}

/// Measured training throughput of the short trial (samples/s; None where that backend
/// could not run or was not timed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub gpu: Option<f64>,
    pub cpu: Option<f64>,
}

/// The decision, with the reason to show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub backend: Pick,
    /// One sentence for the user.
    pub reason: String,
    /// How many times faster the chosen backend measured than the other (below 1 when the
    /// user forced the slower one); None without both measurements.
    pub speedup: Option<f64>,
    /// True when the user (or the URL) forced the backend.
    pub forced: bool,
}

/// On a real GPU, WebGPU is kept unless the CPU path measured at least this much faster
/// (a sub-second trial is noisy, and the GPU leaves the processor to the page).
pub const CPU_MARGIN_ON_HARDWARE: f64 = 1.1;

/// Picks the backend to train on.
///
/// - `forced` (the user's or the URL's choice) wins; the reason says so, and says how
///   much slower it measured when it did.
/// - Without a usable GPU (no adapter, or its trial failed) the CPU path.
/// - A software adapter: the CPU path, unless the trial measured WebGPU faster.
/// - A real GPU: the faster of the two, WebGPU on a near tie ([`CPU_MARGIN_ON_HARDWARE`]).
pub fn choose(class: Option<&AdapterClass>, trial: Trial, forced: Option<Pick>) -> Choice {
    let valid = |v: Option<f64>| v.filter(|s| s.is_finite() && *s > 0.0);
    let (gpu, cpu) = (valid(trial.gpu), valid(trial.cpu));
    let ratio = |pick: Pick| match (gpu, cpu) {
        (Some(g), Some(c)) => Some(if pick == Pick::Gpu { g / c } else { c / g }),
        _ => None,
    };
    let on_processor = match class {
        Some(AdapterClass::Software { what }) => format!("your browser's WebGPU runs on the processor here ({what})"),
        _ => "WebGPU".into(),
    };
    if let Some(pick) = forced {
        let speedup = ratio(pick);
        let asked = match pick {
            Pick::Gpu => "WebGPU",
            Pick::Cpu => "the WebAssembly path",
        };
        let reason = match speedup {
            Some(s) if s < 1.0 => format!("training on {asked} as asked, though it measured {} slower here", times(1.0 / s)),
            _ if pick == Pick::Gpu && class.is_none() => "WebGPU was asked for, but this browser offers no WebGPU adapter".into(),
            _ => format!("training on {asked} as asked"),
        };
        let backend = if pick == Pick::Gpu && class.is_none() { Pick::Cpu } else { pick };
        return Choice { backend, reason, speedup, forced: true };
    }
    let Some(class) = class else {
        return Choice {
            backend: Pick::Cpu,
            reason: "this browser offers no WebGPU adapter, so training runs on the processor (WebAssembly)".into(),
            speedup: None,
            forced: false,
        };
    };
    let pick = match (gpu, cpu) {
        (None, _) => Pick::Cpu,
        (Some(_), None) => if class.is_software() { Pick::Cpu } else { Pick::Gpu },
        (Some(g), Some(c)) => {
            if class.is_software() {
                if g > c { Pick::Gpu } else { Pick::Cpu }
            } else if c >= g * CPU_MARGIN_ON_HARDWARE {
                Pick::Cpu
            } else {
                Pick::Gpu
            }
        }
    };
    let speedup = ratio(pick);
    let reason = match (pick, class.is_software(), speedup) {
        (Pick::Cpu, true, Some(s)) => format!("{on_processor}; the WebAssembly path is {} faster", times(s)),
        (Pick::Cpu, true, None) => format!("{on_processor}, so training runs on the WebAssembly path"),
        (Pick::Gpu, true, Some(s)) => format!("{on_processor}, yet it measured {} faster than the WebAssembly path", times(s)),
        (Pick::Cpu, false, _) if gpu.is_none() => "WebGPU could not train here, so training runs on the processor (WebAssembly)".into(),
        (Pick::Cpu, false, Some(s)) => format!("the WebAssembly path measured {} faster than WebGPU at this model and batch size", times(s)),
        (Pick::Gpu, false, Some(s)) if s >= 1.0 => format!("WebGPU measured {} faster than the WebAssembly path", times(s)),
        (Pick::Gpu, false, Some(s)) => {
            format!("WebGPU and the WebAssembly path measured within {:.0} % of each other; WebGPU keeps the processor free", (1.0 / s - 1.0) * 100.0)
        }
        (Pick::Gpu, _, None) => "training on WebGPU".into(),
        (Pick::Cpu, false, None) => "training on the processor (WebAssembly)".into(),
    };
    Choice { backend: pick, reason, speedup, forced: false }
}

/// "30×", "1.4×": whole numbers from 10 up.
fn times(x: f64) -> String {
    if x >= 9.95 { format!("{x:.0}×") } else { format!("{x:.1}×") }
}

/// What a choice is cached under: the adapter, the preset and the batch size.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChoiceKey {
    /// Whatever identifies the adapter ([`adapter_id`]).
    pub adapter: String,
    pub preset: String,
    pub batch: usize,
}

impl ChoiceKey {
    /// A storage key ("aeplay.backend.v1|adapter|preset|batch"), e.g. for localStorage.
    pub fn storage_key(&self) -> String {
        format!("aeplay.backend.v1|{}|{}|{}", self.adapter, self.preset, self.batch)
    }
}

/// A stable identifier of an adapter from its facts (the fields the browser exposes).
pub fn adapter_id(facts: &AdapterFacts) -> String {
    let parts = [&facts.vendor, &facts.architecture, &facts.name, &facts.description, &facts.driver];
    let mut id: Vec<&str> = parts.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if facts.is_fallback || facts.cpu_device_type {
        id.push("cpu");
    }
    if id.is_empty() { "unknown".into() } else { id.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(f: impl FnOnce(&mut AdapterFacts)) -> AdapterFacts {
        let mut a = AdapterFacts::default();
        f(&mut a);
        a
    }

    #[test]
    fn software_adapters_are_recognised() {
        let chromium = facts(|a| {
            a.vendor = "google".into();
            a.architecture = "swiftshader".into();
        });
        assert_eq!(classify(&chromium), AdapterClass::Software { what: "SwiftShader".into() });
        let lavapipe = facts(|a| {
            a.name = "llvmpipe (LLVM 15.0.6, 256 bits)".into();
            a.cpu_device_type = true;
        });
        assert_eq!(classify(&lavapipe), AdapterClass::Software { what: "llvmpipe".into() });
        let warp = facts(|a| a.description = "Microsoft Basic Render Driver".into());
        assert_eq!(classify(&warp), AdapterClass::Software { what: "WARP".into() });
        let warp2 = facts(|a| a.name = "WARP".into());
        assert!(classify(&warp2).is_software());
        let fallback = facts(|a| a.is_fallback = true);
        assert_eq!(classify(&fallback), AdapterClass::Software { what: "a fallback adapter".into() });
        let cpu = facts(|a| a.cpu_device_type = true);
        assert_eq!(classify(&cpu), AdapterClass::Software { what: "a CPU adapter".into() });
    }

    #[test]
    fn real_gpus_are_hardware() {
        let h200 = facts(|a| {
            a.name = "NVIDIA H200".into();
            a.description = "NVIDIA".into();
            a.driver = "580.65.06".into();
        });
        assert_eq!(classify(&h200), AdapterClass::Hardware);
        // Whole words only: "warp" inside another word is not WARP.
        let odd = facts(|a| a.architecture = "warpdrive-9".into());
        assert_eq!(classify(&odd), AdapterClass::Hardware);
        // The browser hides everything: nothing says software.
        assert_eq!(classify(&AdapterFacts::default()), AdapterClass::Hardware);
    }

    #[test]
    fn from_wgpu_info() {
        let info = wgpu::AdapterInfo {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            vendor: 0x10005,
            device: 0,
            device_type: wgpu::DeviceType::Cpu,
            device_pci_bus_id: String::new(),
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6 (LLVM 15.0.6)".into(),
            backend: wgpu::Backend::Vulkan,
            subgroup_min_size: 8,
            subgroup_max_size: 8,
            transient_saves_memory: None,
            limit_bucket: None,
        };
        let f = AdapterFacts::from(&info);
        assert!(f.cpu_device_type);
        assert!(classify(&f).is_software());
        assert_eq!(adapter_id(&f), "llvmpipe (LLVM 15.0.6, 256 bits)/llvmpipe/Mesa 22.3.6 (LLVM 15.0.6)/cpu");
    }

    fn sw() -> AdapterClass {
        AdapterClass::Software { what: "SwiftShader".into() }
    }

    #[test]
    fn software_adapter_trains_on_the_cpu_and_says_why() {
        let c = choose(Some(&sw()), Trial { gpu: Some(280.0), cpu: Some(8400.0) }, None);
        assert_eq!(c.backend, Pick::Cpu);
        assert!(!c.forced);
        assert_eq!(c.speedup, Some(30.0));
        assert_eq!(c.reason, "your browser's WebGPU runs on the processor here (SwiftShader); the WebAssembly path is 30× faster");
        // Without a trial a software adapter still means the CPU path.
        let c = choose(Some(&sw()), Trial::default(), None);
        assert_eq!(c.backend, Pick::Cpu);
        assert_eq!(c.speedup, None);
        assert!(c.reason.contains("runs on the processor"), "{}", c.reason);
        // Measured faster all the same: the measurement wins, and says so.
        let c = choose(Some(&sw()), Trial { gpu: Some(900.0), cpu: Some(600.0) }, None);
        assert_eq!(c.backend, Pick::Gpu);
        assert!(c.reason.contains("1.5× faster"), "{}", c.reason);
    }

    #[test]
    fn hardware_adapter_takes_the_faster_with_a_margin_for_the_gpu() {
        let hw = AdapterClass::Hardware;
        let c = choose(Some(&hw), Trial { gpu: Some(120_000.0), cpu: Some(9_000.0) }, None);
        assert_eq!(c.backend, Pick::Gpu);
        assert_eq!(c.reason, "WebGPU measured 13× faster than the WebAssembly path");
        let c = choose(Some(&hw), Trial { gpu: Some(5_000.0), cpu: Some(9_000.0) }, None);
        assert_eq!(c.backend, Pick::Cpu);
        assert_eq!(c.reason, "the WebAssembly path measured 1.8× faster than WebGPU at this model and batch size");
        // Within the margin: WebGPU, and the reason says it is a near tie.
        let c = choose(Some(&hw), Trial { gpu: Some(9_000.0), cpu: Some(9_500.0) }, None);
        assert_eq!(c.backend, Pick::Gpu);
        assert!(c.speedup.unwrap() < 1.0);
        assert!(c.reason.contains("within 6 %"), "{}", c.reason);
        // A failed GPU trial (None, NaN or 0): the CPU path.
        for g in [None, Some(f64::NAN), Some(0.0)] {
            let c = choose(Some(&hw), Trial { gpu: g, cpu: Some(9_000.0) }, None);
            assert_eq!(c.backend, Pick::Cpu, "{g:?}");
            assert!(c.reason.contains("could not train"), "{}", c.reason);
        }
        // Only the GPU timed: the GPU.
        assert_eq!(choose(Some(&hw), Trial { gpu: Some(1.0), cpu: None }, None).backend, Pick::Gpu);
    }

    #[test]
    fn no_adapter_means_the_cpu() {
        let c = choose(None, Trial { gpu: None, cpu: Some(9_000.0) }, None);
        assert_eq!(c.backend, Pick::Cpu);
        assert!(c.reason.contains("no WebGPU adapter"), "{}", c.reason);
        // Forcing the GPU without one cannot be obeyed, and says so.
        let c = choose(None, Trial::default(), Some(Pick::Gpu));
        assert_eq!(c.backend, Pick::Cpu);
        assert!(c.forced && c.reason.contains("no WebGPU adapter"), "{}", c.reason);
    }

    #[test]
    fn forcing_wins_and_a_slower_pick_is_said() {
        let c = choose(Some(&sw()), Trial { gpu: Some(280.0), cpu: Some(8400.0) }, Some(Pick::Gpu));
        assert_eq!(c.backend, Pick::Gpu);
        assert!(c.forced);
        assert_eq!(c.reason, "training on WebGPU as asked, though it measured 30× slower here");
        let c = choose(Some(&AdapterClass::Hardware), Trial { gpu: Some(52_000.0), cpu: Some(8_000.0) }, Some(Pick::Cpu));
        assert_eq!(c.backend, Pick::Cpu);
        assert!(c.reason.contains("6.5× slower"), "{}", c.reason);
        let c = choose(Some(&AdapterClass::Hardware), Trial::default(), Some(Pick::Cpu));
        assert_eq!(c.reason, "training on the WebAssembly path as asked");
    }

    #[test]
    fn cache_keys() {
        let f = facts(|a| {
            a.vendor = "google".into();
            a.architecture = "swiftshader".into();
            a.is_fallback = true;
        });
        let k = ChoiceKey { adapter: adapter_id(&f), preset: "dae_vincent".into(), batch: 16 };
        assert_eq!(k.storage_key(), "aeplay.backend.v1|google/swiftshader/cpu|dae_vincent|16");
        let other = ChoiceKey { batch: 64, ..k.clone() };
        assert_ne!(k, other);
        assert_eq!(adapter_id(&AdapterFacts::default()), "unknown");
        // A choice survives a round trip through JSON (the page stores it).
        let c = choose(Some(&sw()), Trial { gpu: Some(280.0), cpu: Some(8400.0) }, None);
        let back: Choice = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
