//! The SVG charts of a report, drawn with plotters' SVG backend: text is
//! written as SVG `<text>` elements (plotters without its font features only
//! estimates text sizes for the layout), so no font library is needed.
//!
//! Every chart has a title, axis descriptions with units and a legend in a
//! panel right of the plot, where it never hides a line. A series' colour
//! is its variant's (the same in every chart); Rust is a solid line with
//! circles, Java a dashed line with triangles, Rust behind the Java API
//! (`rust-jni`) a dotted line with squares.

use super::hgrm::read_hgrm;
use super::{level_number, row_key, row_keys, series};
use crate::results::{Results, Run, Timeline};
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::prelude::*;
use std::path::Path;

/// A chart written into the report folder.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Relative to the report folder: `charts/<name>.svg`.
    pub file: String,
    pub title: String,
    /// One sentence on how to read it, for report.md.
    pub how_to_read: String,
}

/// What `draw_all` drew, and what it could not draw (said in the report,
/// never dropped silently).
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    pub charts: Vec<Chart>,
    pub problems: Vec<String>,
}

/// The plot's part of the picture; the legend panel adds its own width.
const PLOT: (u32, u32) = (750, 560);
/// Pixels per character of a legend label at its 15 px font (estimated:
/// the SVG's reader lays the text out, not plotters).
const LEGEND_CHAR: f64 = 8.5;
const FONT: &str = "sans-serif";

/// Distinct colours (Tableau 10), one per variant in order of appearance.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
];
/// Over-budget marks; kept out of the palette so they read as alarms.
const ALARM: RGBColor = RGBColor(214, 39, 40);
const REFERENCE: RGBColor = RGBColor(40, 40, 40);

type Error = String;

/// Draws every chart the results have data for into `dir/charts/`.
/// `.hgrm` paths are relative to `dir`.
pub fn draw_all(results: &Results, dir: &Path) -> Result<Drawn, Error> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).map_err(|e| format!("cannot create {}: {e}", charts_dir.display()))?;
    let style = Styles::new(results);
    let mut drawn = Drawn::default();
    let levels = Levels::of(&results.runs);

    if results.runs.iter().any(|r| r.achieved_events_per_sec > 0.0) {
        let file = "charts/throughput.svg";
        throughput(results, &levels, &style, &dir.join(file))?;
        drawn.charts.push(Chart {
            file: file.into(),
            title: "Throughput per level".into(),
            how_to_read: "achieved events/s of each implementation and variant at each level on a log axis \
                          (higher is better); the grey dashed mark across each level is the offered rate, so \
                          a point below it is a cell that could not keep up."
                .into(),
        });
    }
    if results.runs.iter().any(|r| r.latency.count > 0) {
        let file = "charts/latency.svg";
        latency(results, &levels, &style, &dir.join(file))?;
        drawn.charts.push(Chart {
            file: file.into(),
            title: latency_title(results).into(),
            how_to_read: "each cell's p99 (filled marks) and p99.9 (hollow marks) on a log axis, under the \
                          black step line of each level's budget; a red cross is a p99 over its budget."
                .into(),
        });
    }
    for key in &levels.keys {
        let runs: Vec<&Run> = results.runs.iter().filter(|r| row_key(r) == *key && r.hgrm.is_some()).collect();
        if runs.is_empty() {
            continue;
        }
        let mut lines = Vec::new();
        for run in runs {
            let rel = run.hgrm.as_deref().unwrap_or_default();
            match read_hgrm(&dir.join(rel)) {
                Ok(points) => lines.push((run, points)),
                Err(e) => drawn.problems.push(format!("spectrum of {} ({}) not drawn: {e}", run.name, run.implementation)),
            }
        }
        if lines.is_empty() {
            continue;
        }
        let file = format!("charts/spectrum-{}.svg", file_safe(key));
        let budget = results.runs.iter().filter(|r| row_key(r) == *key).filter_map(|r| r.budget_us).max();
        spectrum(key, &lines, budget, &style, &dir.join(&file))?;
        drawn.charts.push(Chart {
            file,
            title: format!("Percentile spectrum, {key}"),
            how_to_read: "latency (log axis) against the percentile; the percentile axis stretches the tail \
                          (each step right is ten times rarer: 90%, 99%, 99.9%...), so a line rising at the \
                          right is a tail that only the rarest events see; lower is better, the dashed line \
                          is the budget."
                .into(),
        });
    }
    let timelines: Vec<&Timeline> = results.timelines.iter().filter(|t| !t.points.is_empty()).collect();
    if !timelines.is_empty() {
        let file = "charts/timeline-rate.svg";
        timeline(results, &timelines, Measure::Rate, &style, &dir.join(file))?;
        drawn.charts.push(Chart {
            file: file.into(),
            title: "Rate over time".into(),
            how_to_read: "achieved events/s per interval for each variant under the same schedule (the grey \
                          dashed line is the offered rate): a line that falls below the offered rate during \
                          a burst is a configuration that could not follow it."
                .into(),
        });
        let file = "charts/timeline-p99.svg";
        timeline(results, &timelines, Measure::P99, &style, &dir.join(file))?;
        drawn.charts.push(Chart {
            file: file.into(),
            title: "p99 over time".into(),
            how_to_read: "p99 of each interval on a log axis for each variant under the same schedule: a fixed \
                          linger stays high when the load is light, the adaptive collector should drop back \
                          when the burst ends."
                .into(),
        });
    }
    Ok(drawn)
}

/// A level or step name made safe for a file name.
fn file_safe(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// The x axis of the per-level charts: one slot per level (or step).
struct Levels {
    keys: Vec<String>,
}

impl Levels {
    fn of(runs: &[Run]) -> Self {
        Levels { keys: row_keys(runs) }
    }
    fn index(&self, run: &Run) -> f64 {
        let key = row_key(run);
        self.keys.iter().position(|k| *k == key).unwrap_or(0) as f64
    }
    /// "pressure level", or "level or step" when some slots are steps.
    fn description(&self) -> &'static str {
        if self.keys.iter().all(|k| level_number(k).is_some()) {
            "pressure level"
        } else {
            "level or step"
        }
    }
    /// A series' x at a level: its slot, shifted so the series at one
    /// level sit side by side instead of on top of each other.
    fn x(&self, run: &Run, series: usize, count: usize) -> f64 {
        let step = (0.7 / count as f64).min(0.07);
        self.index(run) + (series as f64 - (count as f64 - 1.0) / 2.0) * step
    }
    fn axis(&self) -> Slots {
        Slots { n: self.keys.len().max(1) }
    }
    /// The tick label: the full name while it fits, `L6` when many levels
    /// share the width.
    fn label(&self, x: f64) -> String {
        let i = x.round();
        if i < 0.0 || (x - i).abs() > 0.01 {
            return String::new();
        }
        let Some(key) = self.keys.get(i as usize) else { return String::new() };
        if self.keys.len() > 6 {
            if let Some(n) = level_number(key) {
                return format!("L{n}");
            }
            return key.chars().take(8).collect();
        }
        key.clone()
    }
}

/// A categorical axis: from half a slot before the first level to half a
/// slot after the last, one tick on each (plotters' own f64 axis picks
/// "nice" ticks that would fall between levels).
struct Slots {
    n: usize,
}

impl Ranged for Slots {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = (value + 0.5) / self.n as f64;
        limit.0 + (share * (limit.1 - limit.0) as f64).round() as i32
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        (0..self.n).map(|i| i as f64).collect()
    }
    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.n as f64 - 0.5
    }
}

/// Colours and marks shared by every chart of one report.
struct Styles {
    variants: Vec<String>,
    /// Wide enough for the longest legend label.
    legend_width: u32,
}

impl Styles {
    fn new(results: &Results) -> Self {
        let mut variants: Vec<String> = Vec::new();
        for (_, v) in series(&results.runs) {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        for t in &results.timelines {
            let v = variant_of_timeline(results, t);
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        // The longest label: "impl variant p99.9" in the latency chart.
        let longest = series(&results.runs)
            .iter()
            .map(|(i, v)| i.chars().count() + 1 + v.chars().count() + " p99.9".len())
            .chain(results.timelines.iter().map(|t| "rust-jni ".len() + variant_of_timeline(results, t).chars().count()))
            .max()
            .unwrap_or(0);
        let legend_width = (56.0 + LEGEND_CHAR * longest as f64 + 16.0).max(220.0) as u32;
        Styles { variants, legend_width }
    }
    fn size(&self) -> (u32, u32) {
        (PLOT.0 + self.legend_width, PLOT.1)
    }
    fn colour(&self, variant: &str) -> RGBColor {
        let i = self.variants.iter().position(|v| v == variant).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }
}

/// The timeline's variant: its run's, or the run name's first part.
fn variant_of_timeline(results: &Results, t: &Timeline) -> String {
    results
        .runs
        .iter()
        .find(|r| r.name == t.run)
        .map(|r| r.variant.clone())
        .unwrap_or_else(|| t.run.split('/').next().unwrap_or(&t.run).to_string())
}

/// How a line and its points look.
#[derive(Clone, Copy)]
enum Mark {
    Circle,
    Triangle,
    HollowCircle,
    HollowTriangle,
    Square,
    HollowSquare,
    Cross,
    None,
}

#[derive(Clone, Copy, PartialEq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    /// (dash, gap) in pixels.
    fn pattern(self) -> Option<(u32, u32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((8, 5)),
            Dash::Dotted => Some((2, 4)),
        }
    }
}

#[derive(Clone, Copy)]
struct LineStyle {
    colour: RGBColor,
    dash: Dash,
    width: u32,
    mark: Mark,
}

impl LineStyle {
    /// Rust solid with circles, Java dashed with triangles, anything else
    /// (the Rust collector behind the Java API, `rust-jni`) dotted with
    /// squares.
    fn of(implementation: &str, colour: RGBColor, hollow: bool) -> Self {
        let (dash, mark, hollow_mark) = match implementation {
            "rust" => (Dash::Solid, Mark::Circle, Mark::HollowCircle),
            "java" => (Dash::Dashed, Mark::Triangle, Mark::HollowTriangle),
            _ => (Dash::Dotted, Mark::Square, Mark::HollowSquare),
        };
        LineStyle { colour, dash, width: 2, mark: if hollow { hollow_mark } else { mark } }
    }
}

/// A legend entry.
struct Entry {
    label: String,
    style: LineStyle,
    /// Draw the line sample (a mark alone otherwise).
    line: bool,
}

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> String + '_ {
    move |e| format!("cannot draw {}: {e}", path.display())
}

/// A triangle's outline around (0, 0) in pixels (plotters' triangle marker
/// is always filled; p99.9 marks are hollow).
fn triangle_outline(style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(0, -6), (5, 3), (-5, 3), (0, -6)], style)
}

/// A square around (0, 0) in pixels.
fn square(style: ShapeStyle) -> Rectangle<(i32, i32)> {
    Rectangle::new([(-4, -4), (4, 4)], style)
}

/// Draws one series: its line (when it has two points or more) and marks.
fn draw_series<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    style: LineStyle,
    line: bool,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let stroke = ShapeStyle { color: style.colour.to_rgba(), filled: false, stroke_width: style.width };
    let problem = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw a series: {e}");
    if line && points.len() > 1 {
        match style.dash.pattern() {
            Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(points.iter().copied(), dash, gap, stroke)).map(|_| ()),
            None => chart.draw_series(LineSeries::new(points.iter().copied(), stroke)).map(|_| ()),
        }
        .map_err(problem)?;
    }
    let filled = style.colour.filled();
    let hollow = ShapeStyle { color: style.colour.to_rgba(), filled: false, stroke_width: 2 };
    let p = points.iter().copied();
    match style.mark {
        Mark::Circle => chart.draw_series(p.map(|c| Circle::new(c, 4, filled))).map(|_| ()),
        Mark::HollowCircle => chart.draw_series(p.map(|c| Circle::new(c, 4, hollow))).map(|_| ()),
        Mark::Triangle => chart.draw_series(p.map(|c| TriangleMarker::new(c, 5, filled))).map(|_| ()),
        Mark::HollowTriangle => chart.draw_series(p.map(|c| EmptyElement::at(c) + triangle_outline(hollow))).map(|_| ()),
        Mark::Square => chart.draw_series(p.map(|c| EmptyElement::at(c) + square(filled))).map(|_| ()),
        Mark::HollowSquare => chart.draw_series(p.map(|c| EmptyElement::at(c) + square(hollow))).map(|_| ()),
        Mark::Cross => chart.draw_series(p.map(|c| Cross::new(c, 6, ShapeStyle { stroke_width: 3, ..filled }))).map(|_| ()),
        Mark::None => Ok(()),
    }
    .map_err(problem)
}

/// The legend, top to bottom in the panel right of the plot.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str, entries: &[Entry]) -> Result<(), String> {
    let problem = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw the legend: {e}");
    let text = TextStyle::from((FONT, 15).into_font()).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(title.to_string(), (10, 60), TextStyle::from((FONT, 16).into_font().style(FontStyle::Bold))))
        .map_err(problem)?;
    for (i, e) in entries.iter().enumerate() {
        let y = 90 + 24 * i as i32;
        let s = e.style;
        let stroke = ShapeStyle { color: s.colour.to_rgba(), filled: false, stroke_width: s.width };
        if e.line {
            let (dash, gap) = s.dash.pattern().map(|(d, g)| (d as i32, g as i32)).unwrap_or((36, 0));
            let mut x = 10;
            while x < 46 {
                area.draw(&PathElement::new(vec![(x, y), ((x + dash).min(46), y)], stroke)).map_err(problem)?;
                x += dash + gap;
            }
        }
        let c = (28, y);
        let filled = s.colour.filled();
        let hollow = ShapeStyle { color: s.colour.to_rgba(), filled: false, stroke_width: 2 };
        match s.mark {
            Mark::Circle => area.draw(&Circle::new(c, 4, filled)),
            Mark::HollowCircle => area.draw(&Circle::new(c, 4, hollow)),
            Mark::Triangle => area.draw(&TriangleMarker::new(c, 5, filled)),
            Mark::HollowTriangle => area.draw(&(EmptyElement::at(c) + triangle_outline(hollow))),
            Mark::Square => area.draw(&(EmptyElement::at(c) + square(filled))),
            Mark::HollowSquare => area.draw(&(EmptyElement::at(c) + square(hollow))),
            Mark::Cross => area.draw(&Cross::new(c, 6, ShapeStyle { stroke_width: 3, ..filled })),
            Mark::None => Ok(()),
        }
        .map_err(problem)?;
        area.draw(&Text::new(e.label.clone(), (56, y), text.clone())).map_err(problem)?;
    }
    Ok(())
}

/// A log axis's range around positive values, with some air on both ends
/// and at least one decade, so the axis always has labels.
fn log_range(values: impl Iterator<Item = f64>) -> Option<std::ops::Range<f64>> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    let (mut lo, mut hi) = (lo / 2.0, hi * 2.0);
    if hi / lo < 10.0 {
        let widen = (10.0 / (hi / lo)).sqrt();
        lo /= widen;
        hi *= widen;
    }
    Some(lo..hi)
}

/// A log axis's ticks: the decades, with 2 and 5 between them while the
/// axis spans three decades or less (plotters' own ticks are decades only).
fn log_ticks(range: &std::ops::Range<f64>) -> Vec<f64> {
    let decades = (range.end / range.start).log10();
    let steps: &[f64] = if decades <= 3.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(range.start.log10().floor());
    while decade <= range.end {
        for m in steps {
            let t = decade * m;
            if t >= range.start && t <= range.end {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// A log y axis with readable ticks.
fn log_axis(range: std::ops::Range<f64>) -> WithKeyPoints<LogCoord<f64>> {
    let ticks = log_ticks(&range);
    range.log_scale().with_key_points(ticks)
}

/// Events/s and µs axis labels: `1k`, `2.5M`, `10ms`.
fn rate_label(v: &f64) -> String {
    super::table::rate(*v)
}
fn micros_label(v: &f64) -> String {
    super::table::micros(*v)
}

/// (a) achieved events/s per level, one line per impl x variant.
fn throughput(results: &Results, levels: &Levels, style: &Styles, path: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(path, style.size()).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (plot, legend) = root.split_horizontally(PLOT.0);
    let offered = results.runs.iter().filter_map(|r| r.offered_events_per_sec);
    let y = log_range(results.runs.iter().map(|r| r.achieved_events_per_sec).chain(offered)).unwrap_or(1.0..10.0);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("{}: throughput per level", results.brochure), (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(levels.axis(), log_axis(y))
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc(levels.description())
        .y_desc("achieved events/s (log)")
        .x_label_formatter(&|x| levels.label(*x))
        .y_label_formatter(&rate_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err(path))?;

    let mut entries = Vec::new();
    // The offered rate per level: the same schedule for every variant.
    let offered: Vec<(f64, f64)> = levels
        .keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            let rates = results.runs.iter().filter(|r| row_key(r) == *k).filter_map(|r| r.offered_events_per_sec);
            rates.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))).map(|v| (i as f64, v))
        })
        .collect();
    if !offered.is_empty() {
        // A flat mark across each level's slot: the cells' points sit on
        // it when they keep up, below it when they do not.
        let s = LineStyle { colour: RGBColor(150, 150, 150), dash: Dash::Dashed, width: 2, mark: Mark::None };
        for (x, v) in &offered {
            draw_series(&mut chart, &[(x - 0.4, *v), (x + 0.4, *v)], s, true)?;
        }
        entries.push(Entry { label: "offered".into(), style: s, line: true });
    }
    let all = series(&results.runs);
    for (n, (implementation, variant)) in all.iter().enumerate() {
        let points: Vec<(f64, f64)> = results
            .runs
            .iter()
            .filter(|r| r.implementation == *implementation && r.variant == *variant && r.achieved_events_per_sec > 0.0)
            .map(|r| (levels.x(r, n, all.len()), r.achieved_events_per_sec))
            .collect();
        let s = LineStyle::of(implementation, style.colour(variant), false);
        draw_series(&mut chart, &points, s, true)?;
        entries.push(Entry { label: format!("{implementation} {variant}"), style: s, line: true });
    }
    draw_legend(&legend, "impl variant", &entries)?;
    root.present().map_err(err(path))
}

/// The latency chart's title: it speaks of a budget only when there is one.
fn latency_title(results: &Results) -> &'static str {
    if results.runs.iter().any(|r| r.budget_us.is_some()) {
        "p99 and p99.9 against the budget"
    } else {
        "p99 and p99.9"
    }
}

/// (b) p99 and p99.9 per level under the budget's step line.
fn latency(results: &Results, levels: &Levels, style: &Styles, path: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(path, style.size()).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (plot, legend) = root.split_horizontally(PLOT.0);
    let measured = results.runs.iter().filter(|r| r.latency.count > 0);
    let budgets = results.runs.iter().filter_map(|r| r.budget_us.map(|b| b as f64));
    let y = log_range(measured.flat_map(|r| [r.latency.p99_us, r.latency.p999_us]).chain(budgets)).unwrap_or(1.0..10.0);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("{}: {}", results.brochure, latency_title(results)), (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(levels.axis(), log_axis(y))
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc(levels.description())
        .y_desc("latency, submit to ack (log)")
        .x_label_formatter(&|x| levels.label(*x))
        .y_label_formatter(&micros_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err(path))?;

    let mut entries = Vec::new();
    // The budget as a step: flat across each level's slot, a riser between.
    let mut step: Vec<(f64, f64)> = Vec::new();
    for (i, key) in levels.keys.iter().enumerate() {
        if let Some(b) = results.runs.iter().filter(|r| row_key(r) == *key).filter_map(|r| r.budget_us).max() {
            let (x, b) = (i as f64, b as f64);
            step.push((x - 0.5, b));
            step.push((x + 0.5, b));
        }
    }
    if !step.is_empty() {
        let s = LineStyle { colour: REFERENCE, dash: Dash::Solid, width: 3, mark: Mark::None };
        draw_series(&mut chart, &step, s, true)?;
        entries.push(Entry { label: "budget".into(), style: s, line: true });
    }
    let all = series(&results.runs);
    let slot = |r: &Run| all.iter().position(|(i, v)| *i == r.implementation && *v == r.variant).unwrap_or(0);
    for (implementation, variant) in &all {
        let runs: Vec<&Run> = results
            .runs
            .iter()
            .filter(|r| r.implementation == *implementation && r.variant == *variant && r.latency.count > 0)
            .collect();
        let colour = style.colour(variant);
        let p99: Vec<(f64, f64)> = runs.iter().map(|r| (levels.x(r, slot(r), all.len()), r.latency.p99_us)).collect();
        let p999: Vec<(f64, f64)> = runs.iter().map(|r| (levels.x(r, slot(r), all.len()), r.latency.p999_us)).collect();
        let solid = LineStyle::of(implementation, colour, false);
        let hollow = LineStyle { width: 1, ..LineStyle::of(implementation, colour, true) };
        draw_series(&mut chart, &p99, solid, true)?;
        draw_series(&mut chart, &p999, hollow, true)?;
        entries.push(Entry { label: format!("{implementation} {variant} p99"), style: solid, line: true });
        entries.push(Entry { label: format!("{implementation} {variant} p99.9"), style: hollow, line: true });
    }
    let over: Vec<(f64, f64)> = results
        .runs
        .iter()
        .filter(|r| r.latency.count > 0 && r.budget_us.is_some_and(|b| r.latency.p99_us > b as f64))
        .map(|r| (levels.x(r, slot(r), all.len()), r.latency.p99_us))
        .collect();
    let alarm = LineStyle { colour: ALARM, dash: Dash::Solid, width: 3, mark: Mark::Cross };
    if !over.is_empty() {
        draw_series(&mut chart, &over, alarm, false)?;
    }
    if !step.is_empty() {
        entries.push(Entry { label: "p99 over budget".into(), style: alarm, line: false });
    }
    draw_legend(&legend, "impl variant", &entries)?;
    root.present().map_err(err(path))
}

/// The spectrum's x axis: 1/(1-p), ticks at the "nines".
const NINES: [(f64, &str); 8] = [
    (1.0, "0%"),
    (2.0, "50%"),
    (10.0, "90%"),
    (100.0, "99%"),
    (1e3, "99.9%"),
    (1e4, "99.99%"),
    (1e5, "99.999%"),
    (1e6, "99.9999%"),
];

/// (c) latency against the percentile on HdrHistogram's 1/(1-p) log axis,
/// one line per `.hgrm` file of the level.
fn spectrum(key: &str, lines: &[(&Run, Vec<(f64, f64)>)], budget_us: Option<u64>, style: &Styles, path: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(path, style.size()).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (plot, legend) = root.split_horizontally(PLOT.0);
    // p = 1 (the maximum) has no place on a 1/(1-p) axis: the line ends at
    // the last percentile below it, as HdrHistogram's plotter draws it.
    let to_xy = |points: &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        points.iter().filter(|(v, p)| *p < 1.0 && *v > 0.0).map(|(v, p)| (1.0 / (1.0 - p), *v)).collect()
    };
    let all: Vec<Vec<(f64, f64)>> = lines.iter().map(|(_, pts)| to_xy(pts)).collect();
    let x_max = all.iter().flatten().map(|(x, _)| *x).fold(100.0f64, f64::max);
    // Up to the next "nine" past the data.
    let x_end = NINES.iter().map(|(x, _)| *x).find(|x| *x >= x_max).unwrap_or(1e6);
    let ticks: Vec<f64> = NINES.iter().map(|(x, _)| *x).filter(|x| *x <= x_end).collect();
    let values = all.iter().flatten().map(|(_, v)| *v).chain(budget_us.map(|b| b as f64));
    let y = log_range(values).unwrap_or(1.0..10.0);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("Percentile spectrum, {key}"), (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((1.0..x_end).log_scale().with_key_points(ticks), log_axis(y))
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc("percentile (log 1/(1-p): each step right is ten times rarer)")
        .y_desc("latency, submit to ack (log)")
        .x_label_formatter(&|x| NINES.iter().find(|(t, _)| (t - x).abs() < 1e-9 * t).map(|(_, l)| l.to_string()).unwrap_or_default())
        .y_label_formatter(&micros_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err(path))?;

    let mut entries = Vec::new();
    if let Some(b) = budget_us {
        let s = LineStyle { colour: REFERENCE, dash: Dash::Dashed, width: 2, mark: Mark::None };
        draw_series(&mut chart, &[(1.0, b as f64), (x_end, b as f64)], s, true)?;
        entries.push(Entry { label: format!("budget {}", super::table::micros(b as f64)), style: s, line: true });
    }
    for ((run, _), points) in lines.iter().zip(&all) {
        let s = LineStyle { mark: Mark::None, ..LineStyle::of(&run.implementation, style.colour(&run.variant), false) };
        draw_series(&mut chart, points, s, true)?;
        entries.push(Entry { label: format!("{} {}", run.implementation, run.variant), style: s, line: true });
    }
    draw_legend(&legend, "impl variant", &entries)?;
    root.present().map_err(err(path))
}

#[derive(Clone, Copy, PartialEq)]
enum Measure {
    Rate,
    P99,
}

/// (d) rate or p99 over time, one line per variant's timeline.
fn timeline(results: &Results, timelines: &[&Timeline], measure: Measure, style: &Styles, path: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(path, style.size()).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (plot, legend) = root.split_horizontally(PLOT.0);
    let value = |p: &crate::results::TimelinePoint| match measure {
        Measure::Rate => p.achieved_events_per_sec,
        Measure::P99 => p.p99_us,
    };
    let points = || timelines.iter().flat_map(|t| t.points.iter());
    let t_end = points().map(|p| p.t_s).fold(0.0f64, f64::max).max(1.0);
    let offered = points().filter_map(|p| p.offered_events_per_sec).filter(|_| measure == Measure::Rate);
    let y = log_range(points().map(value).chain(offered)).unwrap_or(1.0..10.0);
    let (title, y_desc) = match measure {
        Measure::Rate => ("rate over time", "achieved events/s per interval (log)"),
        Measure::P99 => ("p99 over time", "p99 per interval (log)"),
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("{}: {title}", results.brochure), (FONT, 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..t_end, log_axis(y))
        .map_err(err(path))?;
    let y_label: &dyn Fn(&f64) -> String = match measure {
        Measure::Rate => &rate_label,
        Measure::P99 => &micros_label,
    };
    chart
        .configure_mesh()
        .x_desc("seconds since the measured part began")
        .x_label_formatter(&|t| format!("{}", (t * 100.0).round() / 100.0))
        .y_desc(y_desc)
        .y_label_formatter(y_label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err(path))?;

    let mut entries = Vec::new();
    if measure == Measure::Rate {
        // The schedule is the brochure's, the same for every variant: the
        // first timeline that carries it draws it.
        if let Some(t) = timelines.iter().find(|t| t.points.iter().any(|p| p.offered_events_per_sec.is_some())) {
            let offered: Vec<(f64, f64)> =
                t.points.iter().filter_map(|p| p.offered_events_per_sec.map(|o| (p.t_s, o))).collect();
            let s = LineStyle { colour: RGBColor(150, 150, 150), dash: Dash::Dashed, width: 2, mark: Mark::None };
            draw_series(&mut chart, &offered, s, true)?;
            entries.push(Entry { label: "offered".into(), style: s, line: true });
        }
    }
    for t in timelines {
        let run = results.runs.iter().find(|r| r.name == t.run);
        let implementation = run.map(|r| r.implementation.as_str()).unwrap_or("rust");
        let variant = variant_of_timeline(results, t);
        let pts: Vec<(f64, f64)> = t.points.iter().map(|p| (p.t_s, value(p))).filter(|(_, v)| *v > 0.0).collect();
        let s = LineStyle { mark: Mark::None, ..LineStyle::of(implementation, style.colour(&variant), false) };
        draw_series(&mut chart, &pts, s, true)?;
        entries.push(Entry { label: format!("{implementation} {variant}"), style: s, line: true });
    }
    draw_legend(&legend, "impl variant", &entries)?;
    root.present().map_err(err(path))
}
