//! Short type names for `Debug` output: `Vec<String>`, not `alloc::vec::Vec<alloc::string::String>`.

/// `std::any::type_name::<T>()` with every module path removed.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    strip_paths(std::any::type_name::<T>())
}

/// Removes every `a::b::` path prefix from a type name, keeping generics and punctuation.
pub(crate) fn strip_paths(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    // Where the path currently being written started in `out`.
    let mut path_start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(path_start);
            continue;
        }
        out.push(c);
        let is_path_char = c.is_alphanumeric() || c == '_' || c == '{' || c == '}';
        if !is_path_char {
            path_start = out.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_paths;

    #[test]
    fn strips_nested_paths() {
        assert_eq!(
            strip_paths("alloc::vec::Vec<alloc::string::String>"),
            "Vec<String>"
        );
        assert_eq!(strip_paths("i32"), "i32");
        assert_eq!(
            strip_paths("(core::option::Option<u8>, [my::Thing; 3])"),
            "(Option<u8>, [Thing; 3])"
        );
        assert_eq!(strip_paths("app::main::{{closure}}"), "{{closure}}");
        assert_eq!(strip_paths("&dyn core::any::Any"), "&dyn Any");
    }
}
