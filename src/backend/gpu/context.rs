//! Acquiring the device: an adapter and a device with the adapter's own limits and the
//! optional features the backend uses (timestamps, subgroups), a slot for the first device
//! fault, and what the app needs to know about the adapter (name, class, subgroup size,
//! the key tuned choices are cached under).

use crate::backend::choice::{classify, AdapterClass, AdapterFacts};

/// An acquired device with what the app needs to know about it.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The optional features the device was created with (TIMESTAMP_QUERY, SUBGROUP where
    /// the adapter has them).
    pub features: wgpu::Features,
    /// Set when the device is lost or reports an error.
    pub fault: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl GpuContext {
    /// Requests an adapter and a device with the adapter's own limits and, where offered,
    /// timestamp queries and (natively) subgroup operations. Natively only Vulkan is used
    /// (so a GL software adapter is never picked); in the browser, WebGPU.
    pub async fn new() -> Result<Self, String> {
        let backends = if cfg!(target_arch = "wasm32") { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::VULKAN };
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("no GPU adapter is available ({e}); training runs on the CPU instead"))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        // Subgroups only natively: wgpu's WGSL for them is not yet what browsers accept.
        // AEPLAY_GPU_TIMESTAMPS=0 leaves timestamps out (to see the wall-clock fallback).
        let mut wanted = if cfg!(target_arch = "wasm32") { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP };
        if std::env::var("AEPLAY_GPU_TIMESTAMPS").is_ok_and(|v| v == "0") {
            wanted.remove(wgpu::Features::TIMESTAMP_QUERY);
        }
        let features = adapter.features() & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("aeplay"),
                required_features: features,
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the GPU adapter '{}' refused a device ({e})", info.name))?;
        let fault = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("the GPU device was lost ({reason:?}: {msg})"));
            }
        });
        let f = fault.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("GPU error: {e}"));
            }
        }));
        Ok(GpuContext { device, queue, info, limits, features, fault })
    }

    /// The adapter's name, or what the browser tells of it (browsers hide the name).
    pub fn adapter_name(&self) -> String {
        let i = &self.info;
        [&i.name, &i.driver, &i.driver_info]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{:?} adapter", i.device_type))
    }

    /// "name (type, backend)", e.g. "NVIDIA H100 (DiscreteGpu, Vulkan)".
    pub fn adapter_label(&self) -> String {
        format!("{} ({:?}, {:?})", self.adapter_name(), self.info.device_type, self.info.backend)
    }

    /// Hardware, or a software adapter (lavapipe, SwiftShader, WARP, a fallback adapter).
    pub fn class(&self) -> AdapterClass {
        classify(&AdapterFacts::from(&self.info))
    }

    /// True for software adapters (lavapipe, SwiftShader): fine for tests, not for speed.
    pub fn is_cpu_adapter(&self) -> bool {
        self.class().is_software()
    }

    /// The device has timestamp queries (device timing per pass).
    pub fn timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The subgroup size, where the device has subgroup operations and their size is fixed
    /// (the subgroup matmul variant needs both).
    pub fn subgroup_size(&self) -> Option<u32> {
        let (lo, hi) = (self.info.subgroup_min_size, self.info.subgroup_max_size);
        (self.features.contains(wgpu::Features::SUBGROUP) && lo == hi && lo > 0).then_some(lo)
    }


    /// What tuned choices are cached under: the adapter and its driver.
    pub fn adapter_key(&self) -> String {
        let i = &self.info;
        format!("{}|{}|{}|{:?}|{:x}:{:x}", i.name, i.driver, i.driver_info, i.backend, i.vendor, i.device)
    }
}
