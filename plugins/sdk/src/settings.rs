//! The settings of the workspace's install, as its admin saved them.

/// The value of a setting the manifest declares (see
/// [`crate::Manifest::setting`]); `None` for any other name.
pub fn get(name: &str) -> Option<String> {
    crate::bindings::switchboard::connector::settings::get(name)
}
