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

/// The same table in Markdown, for a job summary or a pull-request comment.
pub fn markdown<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(header.iter().map(|h| cell(h)).collect());
    out.push_str(&line(header.iter().map(|_| "---".to_owned()).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| cell(c)).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let rows = [["a|b".to_owned(), "two\nlines".to_owned()]];
        assert_eq!(
            super::markdown(["X", "Y"], &rows),
            "| X | Y |\n| --- | --- |\n| a\\|b | two lines |\n"
        );
    }
}
