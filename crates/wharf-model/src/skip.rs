//! `skip_serializing_if` predicates: Compose omits zero values from its output.

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
pub fn is_false(value: &bool) -> bool {
    !*value
}

pub fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// An attribute Compose prints only when it holds text: unset and empty alike.
#[allow(clippy::ref_option)] // serde passes fields by reference
pub fn is_blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}
