//! The dashboard's charts, drawn here as SVG with `plotters`: the page needs no chart library
//! and nothing from outside the binary.
//!
//! Values become `f64` here and only here, for pixel positions and axis labels; every number
//! the page shows as text comes exact from the ledger.

use plotters::prelude::*;

use super::history::{Buckets, Sample};
use crate::money::{Fixed, SCALE};

/// A named line: `(seconds before the newest sample, value)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Lines drawn at most on one chart (the busiest first).
const LINES_MAX: usize = 6;

const PALETTE: [RGBColor; LINES_MAX] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn dollars(value: Fixed) -> f64 {
    value.units() as f64 / SCALE as f64
}

fn age(sample: &Sample, newest: &Sample) -> f64 {
    (sample.at - newest.at).num_milliseconds() as f64 / 1000.0
}

/// Each omnibus account's available buying power.
pub fn omni_available(samples: &[Sample]) -> Vec<Series> {
    let Some(newest) = samples.last() else {
        return Vec::new();
    };
    let mut series: Vec<Series> = Vec::new();
    for sample in samples {
        for (account, available) in &sample.omni {
            let point = (age(sample, newest), dollars(*available));
            match series.iter_mut().find(|line| &line.name == account) {
                Some(line) => line.points.push(point),
                None => series.push(Series {
                    name: account.clone(),
                    points: vec![point],
                }),
            }
        }
    }
    series.truncate(LINES_MAX);
    series
}

/// Decisions per second by code, between consecutive samples; the busiest codes.
pub fn decision_rates(samples: &[Sample]) -> Vec<Series> {
    let Some(newest) = samples.last() else {
        return Vec::new();
    };
    let mut series: Vec<(f64, Series)> = Vec::new();
    for pair in samples.windows(2) {
        let seconds = (pair[1].at - pair[0].at).num_milliseconds() as f64 / 1000.0;
        if seconds <= 0.0 {
            continue;
        }
        for (code, &now) in &pair[1].decisions {
            let then = pair[0].decisions.get(code).copied().unwrap_or(0.0);
            let rate = (now - then).max(0.0) / seconds;
            let point = (age(&pair[1], newest), rate);
            match series.iter_mut().find(|(_, line)| &line.name == code) {
                Some((total, line)) => {
                    *total += rate;
                    line.points.push(point);
                }
                None => series.push((
                    rate,
                    Series {
                        name: code.clone(),
                        points: vec![point],
                    },
                )),
            }
        }
    }
    series.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    series
        .into_iter()
        .take(LINES_MAX)
        .map(|(_, line)| line)
        .collect()
}

/// Decision and upstream p50 / p99 in microseconds, per interval with observations.
pub fn latency_percentiles(samples: &[Sample]) -> Vec<Series> {
    let Some(newest) = samples.last() else {
        return Vec::new();
    };
    type Pick = fn(&Sample) -> &Buckets;
    let lines: [(&str, Pick, f64); 4] = [
        ("decision p50", |sample| &sample.decision_latency, 0.5),
        ("decision p99", |sample| &sample.decision_latency, 0.99),
        ("upstream p50", |sample| &sample.upstream_latency, 0.5),
        ("upstream p99", |sample| &sample.upstream_latency, 0.99),
    ];
    lines
        .iter()
        .map(|(name, pick, q)| Series {
            name: (*name).to_owned(),
            points: samples
                .windows(2)
                .filter_map(|pair| {
                    let window = pick(&pair[1]).since(pick(&pair[0]));
                    let seconds = window.quantile(*q)?;
                    Some((age(&pair[1], newest), seconds * 1e6))
                })
                .collect(),
        })
        .collect()
}

/// A line chart over the last ten minutes, as SVG text.
pub fn line_chart(title: &str, unit: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    let drawn = draw(&mut svg, title, unit, series);
    if let Err(error) = drawn {
        // Drawing into a String fails only on a plotters bug; say so in the picture.
        tracing::warn!(%error, title, "dashboard chart not drawn");
        return format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="40"><text x="8" y="24">{title}: not drawn</text></svg>"#
        );
    }
    svg
}

fn draw(
    svg: &mut String,
    title: &str,
    unit: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (640, 260)).into_drawing_area();
    root.fill(&WHITE)?;
    let earliest = series
        .iter()
        .flat_map(|line| line.points.iter().map(|point| point.0))
        .fold(-60.0_f64, f64::min);
    let highest = series
        .iter()
        .flat_map(|line| line.points.iter().map(|point| point.1))
        .fold(0.0_f64, f64::max);
    let top = if highest > 0.0 { highest * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(72)
        .build_cartesian_2d(earliest..0.0, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds ago")
        .y_desc(unit)
        .x_label_formatter(&|seconds| format!("{:.0}", 0.0 - seconds))
        .y_label_formatter(&|value| short_number(*value))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (line, color) in series.iter().zip(PALETTE) {
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(line.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// `1.5M`, `20k`, `3.2`: axis labels a glance can read.
fn short_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if magnitude >= 10.0 || magnitude == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use std::collections::BTreeMap;

    fn sample(second: i64, accepted: f64, available: &str) -> Sample {
        Sample {
            at: DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap(),
            omni: vec![("DWOM000001".to_owned(), Fixed::parse(available).unwrap())],
            decisions: BTreeMap::from([("ACCEPTED".to_owned(), accepted)]),
            decision_latency: Buckets(vec![(0.00001, accepted), (f64::INFINITY, accepted)]),
            upstream_latency: Buckets::default(),
        }
    }

    #[test]
    fn series_are_read_off_consecutive_samples() {
        let samples = [
            sample(0, 0.0, "1000"),
            sample(1, 10.0, "900"),
            sample(3, 30.0, "800"),
        ];
        let omni = omni_available(&samples);
        assert_eq!(omni[0].name, "DWOM000001");
        assert_eq!(
            omni[0].points,
            vec![(-3.0, 1000.0), (-2.0, 900.0), (0.0, 800.0)]
        );
        let rates = decision_rates(&samples);
        assert_eq!(rates[0].points, vec![(-2.0, 10.0), (0.0, 10.0)]);
        let latency = latency_percentiles(&samples);
        assert_eq!(latency[1].name, "decision p99");
        assert_eq!(latency[1].points, vec![(-2.0, 10.0), (0.0, 10.0)]);
        assert!(
            latency[2].points.is_empty(),
            "no upstream calls: nothing drawn"
        );
        let svg = line_chart("Omni available", "USD", &omni);
        assert!(
            svg.starts_with("<svg") && svg.contains("DWOM000001"),
            "{svg}"
        );
        assert!(line_chart("Empty", "/s", &[]).starts_with("<svg"));
    }
}
