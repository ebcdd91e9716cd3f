//! Device timing, natively and in the browser: how long work takes on the GPU. Where the
//! device has timestamp queries (wgpu's TIMESTAMP_QUERY natively, WebGPU's
//! `timestamp-query` in the browser) a compute pass writes GPU timestamps at its start and
//! end; elsewhere the wall clock is read around a submission that is waited for (a fence),
//! which also counts the submission's overhead. Everything here is a future, driven by
//! `pollster` natively and by the browser's event loop on the web. Timings belong in
//! benchmarks, never in tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::GpuContext;

/// How device time was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// GPU timestamps written at the start and end of a compute pass.
    Timestamps,
    /// The wall clock around a fenced submission (the adapter has no timestamp queries).
    WallClock,
}

impl GpuContext {
    /// How device time is measured here.
    pub fn clock(&self) -> Clock {
        if self.timestamps() { Clock::Timestamps } else { Clock::WallClock }
    }
}

impl Clock {
    /// Words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::Timestamps => "GPU timestamps (timestamp queries)",
            Clock::WallClock => "no timestamp queries on this adapter: wall clock around a fenced submission (includes submission overhead)",
        }
    }
}

/// Seconds on a monotonic clock (`Instant` natively, `Date.now()` in the browser, which has
/// a millisecond resolution: enough for the fallback's many-dispatch runs).
pub fn now_seconds() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() / 1e3
    }
}

/// Shared state between a device callback and the future waiting for it.
#[derive(Default)]
struct Signal<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// A future resolved by a device callback (`map_async`, `on_submitted_work_done`).
/// Natively nothing drives the callbacks but a poll, so polling it waits on the device.
pub(crate) struct DeviceFuture<T> {
    state: Arc<Mutex<Signal<T>>>,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    device: wgpu::Device,
}

impl<T> DeviceFuture<T> {
    /// The future and the function the callback calls with the result.
    fn new(device: &wgpu::Device) -> (Self, impl Fn(T) + Send + Sync + 'static)
    where
        T: Send + 'static,
    {
        let state = Arc::new(Mutex::new(Signal { value: None, waker: None }));
        let st = state.clone();
        let done = move |v: T| {
            let mut s = st.lock().unwrap();
            s.value = Some(v);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        };
        (DeviceFuture { state, device: device.clone() }, done)
    }
}

impl<T> Future for DeviceFuture<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        }
        let mut s = self.state.lock().unwrap();
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Resolves once the device has finished everything submitted so far.
pub(crate) fn fence(ctx: &GpuContext) -> DeviceFuture<()> {
    let (fut, done) = DeviceFuture::new(&ctx.device);
    ctx.queue.on_submitted_work_done(move || done(()));
    fut
}

/// Maps `staging` (MAP_READ, with its copy already submitted) and returns its first `len`
/// bytes, unmapping it afterwards.
pub(crate) async fn map_bytes(device: &wgpu::Device, staging: wgpu::Buffer, len: usize) -> Result<Vec<u8>, String> {
    let (fut, done) = DeviceFuture::new(device);
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| done(r.map_err(|e| format!("the GPU could not map a readback buffer ({e})"))));
    fut.await?;
    let out = match staging.slice(..).get_mapped_range() {
        Ok(view) => Ok(view[..len].to_vec()),
        Err(e) => Err(format!("reading back from the GPU failed: {e}")),
    };
    staging.unmap();
    out
}

/// Query set, resolve and staging buffers for `count` timestamps.
pub(crate) struct Stamps {
    pub set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    staging: wgpu::Buffer,
    count: u32,
}

impl Stamps {
    pub fn new(device: &wgpu::Device, count: u32) -> Self {
        let bytes = (count as u64 * wgpu::QUERY_SIZE as u64).max(8);
        Stamps {
            set: device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("timestamps"), ty: wgpu::QueryType::Timestamp, count }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps (resolved)"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps (read)"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            count,
        }
    }

    /// Pass timestamps at 2i (start) and 2i + 1 (end).
    pub fn writes(&self, i: u32) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites { query_set: &self.set, beginning_of_pass_write_index: Some(2 * i), end_of_pass_write_index: Some(2 * i + 1) }
    }

    /// Records the copy of the first `used` timestamps to the staging buffer.
    pub fn resolve(&self, enc: &mut wgpu::CommandEncoder, used: u32) {
        let used = used.min(self.count);
        if used > 0 {
            enc.resolve_query_set(&self.set, 0..used, &self.resolve, 0);
            enc.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, used as u64 * wgpu::QUERY_SIZE as u64);
        }
    }

    /// After the submission: the first `pairs` (end − start) durations in seconds.
    pub async fn durations(self, ctx: &GpuContext, pairs: u32) -> Result<Vec<f64>, String> {
        let bytes = map_bytes(&ctx.device, self.staging, (2 * pairs) as usize * 8).await?;
        let period_ns = ctx.queue.get_timestamp_period() as f64;
        let ticks: Vec<u64> = bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).collect();
        Ok(ticks.chunks_exact(2).map(|t| t[1].saturating_sub(t[0]) as f64 * period_ns * 1e-9).collect())
    }
}

/// Device seconds of the dispatches `record` puts into one compute pass: the pass's
/// timestamps where the device has them, else the wall clock around the fenced
/// submission. (No other work may be in flight on the queue for the fallback to mean much.)
pub(crate) async fn time_pass(ctx: &GpuContext, record: &dyn Fn(&mut wgpu::ComputePass<'_>)) -> Result<(f64, Clock), String> {
    let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("timed") });
    if ctx.timestamps() {
        let stamps = Stamps::new(&ctx.device, 2);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("timed"), timestamp_writes: Some(stamps.writes(0)) });
            record(&mut pass);
        }
        stamps.resolve(&mut enc, 2);
        ctx.queue.submit([enc.finish()]);
        let d = stamps.durations(ctx, 1).await?;
        Ok((d[0], Clock::Timestamps))
    } else {
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("timed"), timestamp_writes: None });
            record(&mut pass);
        }
        fence(ctx).await;
        let t0 = now_seconds();
        ctx.queue.submit([enc.finish()]);
        fence(ctx).await;
        Ok((now_seconds() - t0, Clock::WallClock))
    }
}
