//! `plot`: one metric of several runs as lines, to SVG or PNG.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::CliError;
use crate::model::MetricPoint;

/// One line of the chart: a label and its `(step, value)` points.
pub struct Line {
    pub label: String,
    pub points: Vec<MetricPoint>,
}

/// Draws `lines` into `out`; the extension picks the backend. PNG charts
/// carry no text: without a font library plotters cannot draw glyphs into
/// bitmaps, and runstore keeps to pure-Rust dependencies.
pub fn plot(lines: &[Line], metric: &str, out: &Path) -> Result<(), CliError> {
    let size = (960, 600);
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "svg" => draw(
            &SVGBackend::new(out, size).into_drawing_area(),
            lines,
            metric,
            true,
            out,
        ),
        "png" => draw(
            &BitMapBackend::new(out, size).into_drawing_area(),
            lines,
            metric,
            false,
            out,
        ),
        _ => Err(CliError::Usage(format!(
            "cannot plot to {}: the file name must end in .svg or .png",
            out.display()
        ))),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lines: &[Line],
    metric: &str,
    with_text: bool,
    out: &Path,
) -> Result<(), CliError> {
    // The backends' errors do not name the file.
    let fail = |e: &dyn std::fmt::Display| {
        CliError::Usage(format!("cannot draw the plot to {}: {e}", out.display()))
    };
    root.fill(&WHITE).map_err(|e| fail(&e))?;

    let finite = || {
        lines
            .iter()
            .flat_map(|l| &l.points)
            .filter(|p| p.value.is_finite())
    };
    let (x0, x1) = bounds(finite().map(|p| p.step as f64));
    let (y0, y1) = bounds(finite().map(|p| p.value));

    let mut builder = ChartBuilder::on(root);
    builder.margin(20);
    if with_text {
        builder
            .caption(metric, ("sans-serif", 24))
            .x_label_area_size(40)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| fail(&e))?;

    let mut mesh = chart.configure_mesh();
    if with_text {
        mesh.x_desc("step");
    } else {
        mesh.disable_x_mesh()
            .disable_y_mesh()
            .x_labels(0)
            .y_labels(0);
    }
    mesh.draw().map_err(|e| fail(&e))?;

    for (i, line) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = line.points.iter().filter(|p| p.value.is_finite());
        let series = LineSeries::new(
            points.map(|p| (p.step as f64, p.value)),
            color.stroke_width(2),
        );
        let drawn = chart.draw_series(series).map_err(|e| fail(&e))?;
        if with_text {
            let legend = move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color);
            drawn.label(line.label.clone()).legend(legend);
        }
    }
    if with_text {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))
}

/// A non-empty range covering `values` (a unit range around a lone value).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    match (lo.is_finite(), lo < hi) {
        (false, _) => (0.0, 1.0),
        (true, false) => (lo - 0.5, hi + 0.5),
        (true, true) => (lo, hi),
    }
}
