//! Loss histories kept at a bounded size, and charts as data.
//!
//! A tab left training through a lecture records a point every read-back (several a
//! second); the history keeps the curve's shape in bounded memory by thinning its older
//! half whenever it fills up: recent points stay dense, older ones get sparser, the first
//! point always stays.

use serde::{Deserialize, Serialize};

/// Points a history keeps at most (train and test each).
pub const HISTORY_CAP: usize = 2000;

/// (step, value) points in step order, at most `cap` of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    points: Vec<(u64, f64)>,
    cap: usize,
}

impl Default for History {
    fn default() -> Self {
        History::with_cap(HISTORY_CAP)
    }
}

impl History {
    pub fn with_cap(cap: usize) -> Self {
        History { points: Vec::new(), cap: cap.max(4) }
    }

    /// A history holding `points` (thinned to the cap if there are more).
    pub fn from_points(points: Vec<(u64, f64)>) -> Self {
        let mut h = History::default();
        for (s, v) in points {
            h.push(s, v);
        }
        h
    }

    /// Adds a point; a point at or before the last step replaces the points from its step on
    /// (a run resumed from an earlier snapshot goes on from there).
    pub fn push(&mut self, step: u64, value: f64) {
        while self.points.last().is_some_and(|&(s, _)| s >= step) {
            self.points.pop();
        }
        self.points.push((step, value));
        if self.points.len() > self.cap {
            self.thin();
        }
    }

    /// Keeps every other point of the older half (the first point stays).
    fn thin(&mut self) {
        let half = self.points.len() / 2;
        let mut kept: Vec<(u64, f64)> = self.points[..half].iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, p)| *p).collect();
        kept.extend_from_slice(&self.points[half..]);
        self.points = kept;
    }

    pub fn points(&self) -> &[(u64, f64)] {
        &self.points
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn last(&self) -> Option<(u64, f64)> {
        self.points.last().copied()
    }

    pub fn clear(&mut self) {
        self.points.clear();
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Style {
    Line,
    /// Points (joined by a thin line when there are several).
    Points,
}

/// One series of a chart: its legend label, its colour (an index into the page's palette),
/// and its points (x, y).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub label: String,
    pub colour: u8,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

/// What a y axis measures, so the page can label it and scale it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Measure {
    /// A loss: never negative; a log axis when it spans more than a decade.
    Loss,
    /// A fraction in [0, 1] shown in %.
    Percent,
}

/// A stretch of the x axis with a name (a recipe's phase), drawn as a shaded band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub start: f64,
    pub end: f64,
    pub label: String,
}

/// A chart as data: the page draws it for its displayed size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub x_label: String,
    pub y_label: String,
    pub measure: Measure,
    pub series: Vec<Series>,
    /// A horizontal reference line: label and value.
    pub level: Option<(String, f64)>,
    /// Steps in an epoch, where the x axis is steps of one model (the page marks epochs).
    #[serde(default)]
    pub x_per_epoch: Option<f64>,
    /// Named stretches of the x axis (a recipe's phases), in order.
    #[serde(default)]
    pub bands: Vec<Band>,
}

impl Chart {
    /// The page's loss chart: the training loss as a line, the test loss as points.
    pub fn losses(train: &History, test: &History, train_label: &str, level: Option<(String, f64)>, x_per_epoch: Option<f64>) -> Chart {
        let pts = |h: &History| h.points().iter().map(|&(s, v)| (s as f64, v)).collect();
        Chart {
            x_label: "steps".into(),
            y_label: train_label.into(),
            measure: Measure::Loss,
            series: vec![
                Series { label: "train".into(), colour: 0, points: pts(train), style: Style::Line },
                Series { label: "test".into(), colour: 1, points: pts(test), style: Style::Points },
            ],
            level,
            x_per_epoch,
            bands: Vec::new(),
        }
    }
}

/// Which epochs get a mark: every `stride`-th, the stride the smallest of 1, 2, 5, 10, 20,
/// 50… whose marks lie at least `need` pixels apart when one epoch spans `gap` pixels.
pub fn epoch_stride(gap: f64, need: f64) -> i64 {
    let mut k: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            let s = m * k;
            if gap * s as f64 >= need || s >= 1_000_000_000 {
                return s;
            }
        }
        k *= 10;
    }
}

/// A round step for about `target` ticks over `span`: 1, 2 or 5 × 10^k.
pub fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target.max(1.0)).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    step * mag
}

/// A tick label for a multiple of `step`: thousands separated, as many decimals as the step
/// needs.
pub fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e6 {
        return format!("{v:.3e}");
    }
    if step >= 1.0 && (v - v.round()).abs() < 1e-9 {
        let s = format!("{}", v.round() as i64);
        let digits: Vec<char> = s.trim_start_matches('-').chars().collect();
        let mut out = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(*c);
        }
        return if v < 0.0 { format!("-{out}") } else { out };
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(87.28, 4.0), 20.0);
        assert!((nice_step(0.2797, 4.0) - 0.05).abs() < 1e-12);
        assert_eq!(nice_step(75_450.0, 6.0), 10_000.0);
        assert_eq!(format_tick(20_000.0, 10_000.0), "20,000");
        assert_eq!(format_tick(0.15, 0.05), "0.15");
        assert_eq!(format_tick(0.0, 0.05), "0");
        assert_eq!(format_tick(-1500.0, 500.0), "-1,500");
    }

    #[test]
    fn epoch_marks_thin_to_what_fits() {
        assert_eq!(epoch_stride(100.0, 60.0), 1);
        assert_eq!(epoch_stride(40.0, 60.0), 2);
        assert_eq!(epoch_stride(25.0, 60.0), 5);
        assert_eq!(epoch_stride(7.0, 60.0), 10);
        assert_eq!(epoch_stride(3.5, 60.0), 20);
        assert_eq!(epoch_stride(0.5, 60.0), 200);
        assert_eq!(epoch_stride(0.0, 60.0), 1_000_000_000, "no room at all ends the search");
    }

    #[test]
    fn a_long_run_stays_bounded_and_keeps_its_ends() {
        let mut h = History::with_cap(100);
        for s in 0..100_000u64 {
            h.push(s, 1000.0 / (1.0 + s as f64));
        }
        assert!(h.len() <= 100, "{} points", h.len());
        assert!(h.len() >= 50);
        assert_eq!(h.points()[0], (0, 1000.0));
        assert_eq!(h.last().unwrap().0, 99_999);
        assert!(h.points().windows(2).all(|w| w[0].0 < w[1].0), "steps stay in order");
        // The recent half is dense: the last 20 points are consecutive steps.
        let tail = &h.points()[h.len() - 20..];
        assert!(tail.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{tail:?}");
    }

    #[test]
    fn an_earlier_step_replaces_what_came_after_it() {
        let mut h = History::default();
        for s in [10, 20, 30, 40] {
            h.push(s, s as f64);
        }
        h.push(25, 1.0);
        assert_eq!(h.points(), &[(10, 10.0), (20, 20.0), (25, 1.0)]);
    }
}
