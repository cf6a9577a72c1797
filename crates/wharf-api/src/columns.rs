//! Rows in aligned columns, as Compose's and Docker's tables lay them out: each column
//! but the last as wide as its widest cell plus some spaces, and at least a minimum.

use std::fmt::Write as _;

/// `rows` of cells aligned; every column but the last as wide as its widest cell plus
/// `padding` spaces, and at least `min_width`.
pub fn aligned_columns<S: AsRef<str>>(rows: &[Vec<S>], min_width: usize, padding: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![min_width; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.as_ref().chars().count() + padding);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell.as_ref());
            } else {
                let _ = write!(out, "{:<width$}", cell.as_ref(), width = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}
