//! Validation of ids and names (the "Ids" and "Names" sections of `docs/RULES.md`).

use crate::core::error::StoreError;

/// The most code points (Unicode scalar values) a name may hold.
pub const MAX_NAME_CODE_POINTS: usize = 256;

/// Converts an id from the JVM (`Long`) to the stored `u64`; a negative id is
/// [`StoreError::InvalidId`].
pub fn check_id(id: i64) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::InvalidId(id))
}

/// Checks that `name_utf8` is a valid name: valid UTF-8 holding 1 to
/// [`MAX_NAME_CODE_POINTS`] code points. Returns it as a `&str`.
pub fn check_name(name_utf8: &[u8]) -> Result<&str, StoreError> {
    let name = std::str::from_utf8(name_utf8).map_err(|e| {
        StoreError::InvalidName(format!(
            "the name is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    check_name_str(name)?;
    Ok(name)
}

/// Checks that `name` holds 1 to [`MAX_NAME_CODE_POINTS`] code points.
pub fn check_name_str(name: &str) -> Result<(), StoreError> {
    name_problem(name).map_or(Ok(()), |problem| Err(StoreError::InvalidName(problem)))
}

/// What is wrong with the length of `name`, or `None` if it is a valid name.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_owned());
    }
    // A code point takes at least one byte, so a short string needs no counting.
    if name.len() <= MAX_NAME_CODE_POINTS {
        return None;
    }
    let code_points = name.chars().count();
    if code_points > MAX_NAME_CODE_POINTS {
        Some(format!(
            "the name is too long: {code_points} code points (at most {MAX_NAME_CODE_POINTS})"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(check_id(0), Ok(0));
        assert_eq!(check_id(i64::MAX), Ok(i64::MAX as u64));
        assert_eq!(check_id(-1), Err(StoreError::InvalidId(-1)));
        assert_eq!(check_id(i64::MIN), Err(StoreError::InvalidId(i64::MIN)));
    }

    #[test]
    fn lengths_are_counted_in_code_points() {
        assert_eq!(check_name("a".as_bytes()), Ok("a"));
        assert!(check_name("😀".repeat(256).as_bytes()).is_ok());
        assert!(check_name("é".repeat(256).as_bytes()).is_ok());
        assert!(check_name("x".repeat(256).as_bytes()).is_ok());
        let err = check_name("😀".repeat(257).as_bytes()).unwrap_err();
        assert_eq!(
            err,
            StoreError::InvalidName(
                "the name is too long: 257 code points (at most 256)".to_owned()
            )
        );
        assert!(check_name("x".repeat(257).as_bytes()).is_err());
    }

    #[test]
    fn empty_and_invalid_utf8_are_rejected() {
        assert_eq!(
            check_name(b""),
            Err(StoreError::InvalidName("the name is empty".to_owned()))
        );
        let err = check_name(b"ab\xff").unwrap_err();
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
        // An encoded surrogate (CESU-8 / WTF-8) is not UTF-8.
        assert!(check_name(b"\xed\xa0\x80").is_err());
    }

    #[test]
    fn nul_is_a_valid_name() {
        assert_eq!(check_name(b"\0"), Ok("\0"));
    }
}
