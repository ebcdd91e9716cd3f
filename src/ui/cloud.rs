//! `linear_3d_pca` in the page: the 3-D cloud (drag to turn it) with the model's
//! reconstructions and PCA's plane, beside the model's 2-D codes, which unroll the band. The
//! training worker sends the points, reconstructions, codes and PCA's plane in each frame
//! (`app::pictures::CloudView`); turning the cloud is the page's own business.

use crate::app::pictures::CloudView;

use super::dom;

/// Degrees the view turns per frame while training (drag to turn it by hand).
const SPIN_PER_FRAME: f64 = 0.4;

/// What the page shows of the cloud: the last view from the worker and the angles.
#[derive(Clone, Debug)]
pub struct Scene {
    view: Option<CloudView>,
    /// Turn about the vertical axis, tilt towards the viewer (degrees).
    yaw: f64,
    pitch: f64,
    drag: Option<(f64, f64)>,
}

impl Default for Scene {
    fn default() -> Self {
        Scene { view: None, yaw: 30.0, pitch: 25.0, drag: None }
    }
}

/// The band's colour for a point: by its position along PCA's first axis, so the same
/// point has the same colour in the cloud and among the codes.
fn colour(t: f32) -> String {
    format!("hsl({:.0}, 75%, 45%)", 260.0 * (1.0 - t.clamp(0.0, 1.0)))
}

/// The summary under the cloud.
pub fn summary(c: &CloudView) -> String {
    format!(
        "Mean squared error: the model {:.5}, PCA with 2 components {:.5}. The decoder's plane is {:.2}° off PCA's.",
        c.model_mse, c.pca_mse, c.angle_deg
    )
}

impl Scene {
    /// A new view from the worker (turning a little while training).
    pub fn show(&mut self, v: CloudView, spinning: bool) {
        if spinning {
            self.yaw = (self.yaw + SPIN_PER_FRAME) % 360.0;
        }
        self.view = Some(v);
        self.draw();
    }

    pub fn drag_start(&mut self, x: f64, y: f64) {
        self.drag = Some((x, y));
    }

    pub fn drag_move(&mut self, x: f64, y: f64) {
        let Some((x0, y0)) = self.drag else { return };
        self.yaw = (self.yaw + (x - x0) * 0.5) % 360.0;
        self.pitch = (self.pitch + (y - y0) * 0.5).clamp(-89.0, 89.0);
        self.drag = Some((x, y));
        self.draw();
    }

    pub fn drag_end(&mut self) {
        self.drag = None;
    }

    fn draw(&self) {
        let Some(v) = &self.view else { return };
        self.draw_cloud(v);
        draw_codes(&v.codes, &v.shade);
    }

    /// Orthographic view of a point after turning by yaw (about the third axis) and pitch.
    fn project(&self, p: &[f32], w: f64, h: f64, scale: f64) -> (f64, f64, f64) {
        let (yaw, pitch) = (self.yaw.to_radians(), self.pitch.to_radians());
        let (x, y, z) = (p[0] as f64, p[1] as f64, p[2] as f64);
        let (x1, y1) = (x * yaw.cos() - y * yaw.sin(), x * yaw.sin() + y * yaw.cos());
        let (y2, z2) = (y1 * pitch.sin() + z * pitch.cos(), y1 * pitch.cos() - z * pitch.sin());
        (w / 2.0 + scale * x1, h / 2.0 - scale * y2, z2)
    }

    fn draw_cloud(&self, v: &CloudView) {
        let recon = &v.recon;
        let Some(c) = dom::canvas("cloud3d") else { return };
        let Some(ctx) = dom::ctx2d(&c) else { return };
        let (w, h) = (c.width() as f64, c.height() as f64);
        let scale = w.min(h) / 7.0;
        ctx.set_fill_style_str("#fff");
        ctx.fill_rect(0.0, 0.0, w, h);
        // PCA's plane: a square of side 5 around the mean, in the plane of the two components.
        let (m, a, b) = (&v.pca_mean, &v.pca_axes[0], &v.pca_axes[1]);
        let corner = |s: f32, t: f32| -> Vec<f32> { (0..3).map(|i| m[i] + 2.5 * (s * a[i] + t * b[i])).collect() };
        ctx.set_fill_style_str("rgba(22, 163, 74, 0.12)");
        ctx.set_stroke_style_str("rgba(22, 163, 74, 0.6)");
        ctx.set_line_width(1.5);
        ctx.begin_path();
        for (i, (s, t)) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].into_iter().enumerate() {
            let (x, y, _) = self.project(&corner(s, t), w, h, scale);
            if i == 0 {
                ctx.move_to(x, y);
            } else {
                ctx.line_to(x, y);
            }
        }
        ctx.close_path();
        ctx.fill();
        ctx.stroke();
        // Axes.
        ctx.set_font("13px system-ui, sans-serif");
        for (i, name) in ["x₁", "x₂", "x₃"].iter().enumerate() {
            let mut e = [0.0f32; 3];
            e[i] = 2.0;
            let (x0, y0, _) = self.project(&[0.0, 0.0, 0.0], w, h, scale);
            let (x1, y1, _) = self.project(&e, w, h, scale);
            ctx.set_stroke_style_str("#9ca3af");
            ctx.begin_path();
            ctx.move_to(x0, y0);
            ctx.line_to(x1, y1);
            ctx.stroke();
            ctx.set_fill_style_str("#6b7280");
            let _ = ctx.fill_text(name, x1 + 3.0, y1 - 3.0);
        }
        // Points, far ones first, each joined to its reconstruction.
        let mut order: Vec<usize> = (0..v.points.len() / 3).collect();
        let depth: Vec<f64> = order.iter().map(|&i| self.project(&v.points[i * 3..(i + 1) * 3], w, h, scale).2).collect();
        order.sort_by(|&i, &j| depth[j].total_cmp(&depth[i]));
        ctx.set_line_width(1.0);
        for i in order {
            let (px, py, _) = self.project(&v.points[i * 3..(i + 1) * 3], w, h, scale);
            let (rx, ry, _) = self.project(&recon[i * 3..(i + 1) * 3], w, h, scale);
            ctx.set_stroke_style_str("rgba(55, 65, 81, 0.45)");
            ctx.begin_path();
            ctx.move_to(px, py);
            ctx.line_to(rx, ry);
            ctx.stroke();
            ctx.set_fill_style_str(&colour(v.shade[i]));
            ctx.begin_path();
            let _ = ctx.arc(px, py, 3.5, 0.0, std::f64::consts::TAU);
            ctx.fill();
            ctx.set_fill_style_str("#111827");
            ctx.fill_rect(rx - 1.5, ry - 1.5, 3.0, 3.0);
        }
    }
}

/// The model's 2-D codes, coloured as in the cloud.
fn draw_codes(codes: &[f32], shade: &[f32]) {
    let Some(c) = dom::canvas("cloud-codes") else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let pts: Vec<(f64, f64)> = codes.chunks(2).map(|p| (p[0] as f64, p[1] as f64)).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if pts.len() * 2 != codes.len() || pts.is_empty() {
        return;
    }
    // The same scale on both axes, so the shape is not distorted.
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-9);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let scale = (w.min(h) - 40.0) / span;
    ctx.set_stroke_style_str("#e5e7eb");
    ctx.begin_path();
    ctx.move_to(w / 2.0, 10.0);
    ctx.line_to(w / 2.0, h - 10.0);
    ctx.move_to(10.0, h / 2.0);
    ctx.line_to(w - 10.0, h / 2.0);
    ctx.stroke();
    for (i, &(x, y)) in pts.iter().enumerate() {
        ctx.set_fill_style_str(&colour(shade[i]));
        ctx.begin_path();
        let _ = ctx.arc(w / 2.0 + (x - cx) * scale, h / 2.0 - (y - cy) * scale, 3.5, 0.0, std::f64::consts::TAU);
        ctx.fill();
    }
}
