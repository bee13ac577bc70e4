//! Figures as SVG and PNG (plotters), drawn with the DejaVu Sans font compiled into the binary:
//! no system font, no fontconfig. Each figure puts the paper's series beside this run's.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// DejaVu Sans (Bitstream Vera licence, `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font (checked by a test); a failure would only
        // leave the plots without text.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, FONT);
    });
}

/// A line chart panel: one line per series over categorical x values.
#[derive(Clone, Debug)]
pub struct LinePanel {
    pub title: String,
    pub x: Vec<String>,
    pub y_label: String,
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// A confusion-matrix heatmap (colour: share of the true class's rows; text: counts).
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    pub classes: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

/// A dot chart: per category, one marker per series (hollow for the paper).
#[derive(Clone, Debug)]
pub struct DotPanel {
    pub title: String,
    pub categories: Vec<String>,
    pub y_label: String,
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// What a figure holds.
#[derive(Clone, Debug)]
pub enum Panels {
    Lines(Vec<LinePanel>),
    Heatmaps(Vec<Heatmap>),
    Dots(Vec<DotPanel>),
}

/// A figure: panels in a grid of `cols` columns.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem under `figures/`.
    pub id: String,
    pub title: String,
    pub caption: String,
    pub cols: usize,
    pub panels: Panels,
}

impl Figure {
    fn n_panels(&self) -> usize {
        match &self.panels {
            Panels::Lines(p) => p.len(),
            Panels::Heatmaps(p) => p.len(),
            Panels::Dots(p) => p.len(),
        }
    }

    /// Pixel size of the whole figure.
    pub fn size(&self) -> (u32, u32) {
        let cols = self.cols.max(1);
        let rows = self.n_panels().div_ceil(cols).max(1);
        let (w, h) = match self.panels {
            Panels::Heatmaps(_) => (560, 500),
            _ => (560, 340),
        };
        (w * cols as u32, h * rows as u32 + 40)
    }
}

const COLORS: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let (titled, body) = root.split_vertically(40);
    titled
        .draw(&Text::new(
            fig.title.clone(),
            (10, 10),
            (FAMILY, 20)
                .into_font()
                .style(FontStyle::Bold)
                .color(&BLACK),
        ))
        .map_err(err)?;
    let cols = fig.cols.max(1);
    let rows = fig.n_panels().div_ceil(cols).max(1);
    let areas = body.split_evenly((rows, cols));
    match &fig.panels {
        Panels::Lines(panels) => {
            for (p, area) in panels.iter().zip(areas) {
                line_panel(&area, p)?;
            }
        }
        Panels::Heatmaps(panels) => {
            for (p, area) in panels.iter().zip(areas) {
                heatmap(&area, p)?;
            }
        }
        Panels::Dots(panels) => {
            for (p, area) in panels.iter().zip(areas) {
                dot_panel(&area, p)?;
            }
        }
    }
    root.present().map_err(err)
}

fn y_range(series: &[(String, Vec<Option<f64>>)]) -> (f64, f64) {
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.0, 100.0);
    }
    let lo = (lo - 5.0).clamp(0.0, 100.0);
    let lo = (lo / 10.0).floor() * 10.0;
    let hi = (hi + 2.0).min(100.0).max(lo + 1.0);
    (lo, hi)
}

fn cat<'a>(labels: &'a [String]) -> impl Fn(&SegmentValue<i32>) -> String + 'a {
    move |v| match v {
        SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn line_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &LinePanel) -> DrawResult {
    let (lo, hi) = y_range(&p.series);
    let n = p.x.len() as i32;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d((0..n - 1).into_segmented(), lo..hi)
        .map_err(err)?;
    let fmt = cat(&p.x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(p.x.len())
        .x_label_formatter(&fmt)
        .y_desc(p.y_label.as_str())
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    for (k, (name, values)) in p.series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<(SegmentValue<i32>, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (SegmentValue::CenterOf(i as i32), v.clamp(lo, hi))))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|pt| Circle::new(pt, 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 11))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

fn dot_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &DotPanel) -> DrawResult {
    let (lo, hi) = y_range(&p.series);
    let n = p.categories.len() as i32;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d((0..n - 1).into_segmented(), lo..hi)
        .map_err(err)?;
    let fmt = cat(&p.categories);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(p.categories.len())
        .x_label_formatter(&fmt)
        .y_desc(p.y_label.as_str())
        .label_style((FAMILY, 11))
        .axis_desc_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    for (k, (name, values)) in p.series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let hollow = k == 0;
        let points: Vec<(SegmentValue<i32>, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (SegmentValue::CenterOf(i as i32), v.clamp(lo, hi))))
            .collect();
        let style = if hollow {
            color.stroke_width(2)
        } else {
            color.filled()
        };
        chart
            .draw_series(points.into_iter().map(move |pt| Circle::new(pt, 6, style)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x + 6, y), 5, style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font((FAMILY, 11))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

fn heat_color(share: f64) -> RGBColor {
    // White to a deep blue.
    let s = share.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * s).round() as u8;
    RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
}

fn compact(n: u64) -> String {
    if n >= 10_000_000 {
        format!("{:.0}M", n as f64 / 1e6)
    } else if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 10_000 {
        format!("{:.0}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

fn heatmap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heatmap) -> DrawResult {
    let k = h.classes.len() as i32;
    let mut chart: ChartContext<'_, DB, Cartesian2d<_, _>> = ChartBuilder::on(area)
        .caption(&h.title, (FAMILY, 15))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((0..k - 1).into_segmented(), (0..k - 1).into_segmented())
        .map_err(err)?;
    let xf = cat(&h.classes);
    let reversed: Vec<String> = h.classes.iter().rev().cloned().collect();
    let yf = cat(&reversed);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(h.classes.len())
        .y_labels(h.classes.len())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc("predicted")
        .y_desc("true class")
        .label_style((FAMILY, 11))
        .axis_desc_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    type Point = (SegmentValue<i32>, SegmentValue<i32>);
    let cell = |i: usize, j: usize| -> (Point, Point) {
        let y = k - 1 - i as i32;
        (
            (SegmentValue::Exact(j as i32), SegmentValue::Exact(y + 1)),
            (SegmentValue::Exact(j as i32 + 1), SegmentValue::Exact(y)),
        )
    };
    for (i, row) in h.counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &c) in row.iter().enumerate() {
            let share = if total > 0 {
                c as f64 / total as f64
            } else {
                0.0
            };
            let (a, b) = cell(i, j);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [a, b],
                    heat_color(share).filled(),
                )))
                .map_err(err)?;
            let color = if share > 0.5 { WHITE } else { BLACK };
            let y = k - 1 - i as i32;
            chart
                .draw_series(std::iter::once(Text::new(
                    compact(c),
                    (SegmentValue::CenterOf(j as i32), SegmentValue::CenterOf(y)),
                    (FAMILY, 12)
                        .into_font()
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Writes `figures/<id>.svg` and `figures/<id>.png`.
pub fn write(fig: &Figure, dir: &Path) -> Result<(), String> {
    register_font();
    let size = fig.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(root, fig)?;
    }
    let svg_path = dir.join(format!("{}.svg", fig.id));
    std::fs::write(&svg_path, svg)
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    let png_path = dir.join(format!("{}.png", fig.id));
    {
        let root = BitMapBackend::new(&png_path, size).into_drawing_area();
        draw(root, fig)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_is_a_valid_truetype_font() {
        assert!(plotters::style::register_font("test-font", FontStyle::Normal, FONT).is_ok());
    }

    #[test]
    fn a_figure_renders_text_into_both_formats() {
        let dir = std::env::temp_dir().join(format!("mqtt-ids-fig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fig = Figure {
            id: "t".into(),
            title: "Title".into(),
            caption: String::new(),
            cols: 2,
            panels: Panels::Heatmaps(vec![Heatmap {
                title: "paper".into(),
                classes: vec!["a".into(), "b".into()],
                counts: vec![vec![5, 1], vec![0, 9]],
            }]),
        };
        write(&fig, &dir).unwrap();
        let svg = std::fs::read_to_string(dir.join("t.svg")).unwrap();
        assert!(
            svg.contains("\nTitle\n") && svg.contains("\npredicted\n"),
            "{svg}"
        );
        let png = std::fs::read(dir.join("t.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
