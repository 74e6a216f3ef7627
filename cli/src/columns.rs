//! Text in aligned columns, as people read tables in a terminal.

/// `headers` and `rows` as lines of columns padded to their widest cell, two spaces apart.
pub fn aligned<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|header| header.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(headers);
    for row in rows {
        out += &line(row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_cells_of_different_widths_then_each_column_is_as_wide_as_its_widest_cell() {
        let rows = [["a".to_owned(), "long cell".to_owned()], ["wider".to_owned(), "-".to_owned()]];
        assert_eq!(aligned(["K", "V"], &rows), "K      V\na      long cell\nwider  -\n");
        assert_eq!(aligned(["K", "V"], &[]), "K  V\n");
    }
}
