//! Services' size limits, met by cutting text with an ellipsis rather
//! than by a post the service rejects.

/// `text` cut to at most `max` characters, the last of them `…`. Text
/// escaped for HTML or Slack (`&amp;`) is never cut inside an entity.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let mut kept = &text[..end];
    // A cut `&lt` would show as text: drop the entity's start too.
    if let Some(amp) = kept.rfind('&')
        && !kept[amp..].contains(';')
        && text[amp..].find(';').is_some_and(|semi| semi <= 8)
    {
        kept = &kept[..amp];
    }
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_with_an_ellipsis_within_the_limit() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdefghij", 10), "abcdefghij");
        assert_eq!(cut("abcdefghijk", 10), "abcdefghi…");
        assert_eq!(cut("ééééé", 3), "éé…");
        assert_eq!(cut("ab &lt;!channel&gt;", 6), "ab …");
        assert!(cut(&"x".repeat(5000), 3000).chars().count() == 3000);
    }
}
