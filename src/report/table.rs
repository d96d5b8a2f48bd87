//! Plain-text tables: left-aligned columns separated by two spaces.

pub fn render<const N: usize>(header: [&str; N], rows: &[[String; N]], indent: usize) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header = header.map(str::to_owned);
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(&" ".repeat(indent));
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
