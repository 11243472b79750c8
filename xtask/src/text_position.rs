//! Where a byte offset is for a reader: 1-based line and character column, the form the
//! lints and shellcheck findings are reported in (`file:line:column`).

/// 1-based line and character column of a byte offset (clamped to the text).
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn lines_and_character_columns() {
        let src = "ab\n\u{e9}x\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        // After the two-byte é: column counts characters, not bytes.
        assert_eq!(line_col(src, 5), (2, 2));
        // Inside é, and past the end: clamped to a boundary.
        assert_eq!(line_col(src, 4), (2, 1));
        assert_eq!(line_col(src, 99), (3, 1));
    }
}
