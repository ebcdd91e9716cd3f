//! Times each GPU op of a dae_vincent step on the first Vulkan adapter (one op kind at a
//! time, 20 repetitions, synchronised by a read-back), to see where a step's time goes.
//! `cargo run --release --example gpu_ops_profile -- [batch]`

use std::time::Instant;

use aeplay::backend::gpu::{GpuBackend, GpuContext};
use aeplay::backend::Backend;
use aeplay::core::Activation;
use aeplay::core::LossKind;

fn main() {
    let b: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let ctx = pollster::block_on(GpuContext::new()).expect("a GPU adapter");
    println!("adapter: {}", ctx.adapter_label());
    let mut be = GpuBackend::new(ctx);
    let (d, h) = (784, 500);
    let x = be.alloc(b * d);
    let w = be.alloc(d * h);
    let z = be.alloc(b * h);
    let y = be.alloc(b * h);
    let bias = be.alloc(h);
    let out = be.alloc(b * d);
    let dout = be.alloc(b * d);
    let rows = be.alloc(b);
    let gw = be.alloc(d * h);
    let one = be.alloc(1);
    let time = |name: &str, be: &mut GpuBackend, f: &mut dyn FnMut(&mut GpuBackend)| {
        f(be);
        be.read(one);
        let t = Instant::now();
        for _ in 0..20 {
            f(be);
        }
        be.read(one);
        println!("{name:>28}: {:8.3} ms", t.elapsed().as_secs_f64() * 1e3 / 20.0);
    };
    time("matmul X·W (b×784×500)", &mut be, &mut |be| be.matmul(x, w, z, b, d, h, false, false, false));
    time("matmul Xᵀ·dZ (784×b×500)", &mut be, &mut |be| be.matmul(x, z, gw, d, b, h, true, false, false));
    time("matmul dZ·Wᵀ (b×500×784)", &mut be, &mut |be| be.matmul(z, w, out, b, h, d, false, true, false));
    time("bias_act_forward (b×500)", &mut be, &mut |be| be.bias_act_forward(z, bias, Activation::Sigmoid, y, h));
    time("act_backward (b×500)", &mut be, &mut |be| be.act_backward(z, y, Activation::Sigmoid, z.prefix(b * h)));
    time("loss (b×784)", &mut be, &mut |be| be.loss_forward_backward(LossKind::BceLogits, out, x, d, 1.0, dout, rows));
    time("bias_grad (b×500)", &mut be, &mut |be| be.bias_grad(z, bias, h, false));
    time("sgd_step (392k)", &mut be, &mut |be| be.sgd_step(w, gw, 0.01));
    time("noise_masking (b×784)", &mut be, &mut |be| be.noise(aeplay::core::NoiseKind::Masking { keep: 0.9 }, x, dout, 1, 2));
}
