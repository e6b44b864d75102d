//! The glue between a [`Connector`] and the generated component exports.

use crate::Connector;
use crate::bindings::switchboard::connector::types as wit;

pub fn describe<C: Connector>() -> wit::Manifest {
    C::manifest().into_wit(&C::actions())
}

pub fn check_credential<C: Connector>() -> Result<wit::Account, wit::ConnectorError> {
    C::check_credential().map(Into::into).map_err(Into::into)
}

pub fn invoke<C: Connector>(action: &str, input: &str) -> Result<String, wit::ConnectorError> {
    C::actions().run(action, input).map_err(Into::into)
}

/// Export a [`Connector`] as the component's `connector` interface.
///
/// ```ignore
/// struct Acme;
/// impl switchboard_sdk::Connector for Acme { /* ... */ }
/// switchboard_sdk::export_connector!(Acme);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        // Only a wasm build exports; a native build (for unit tests) links
        // without the component's export symbols.
        #[cfg(target_family = "wasm")]
        const _: () = {
            use $crate::bindings::exports::switchboard::connector::connector::Guest;
            use $crate::bindings::switchboard::connector::types as wit;

            struct Exported;

            impl Guest for Exported {
                fn describe() -> wit::Manifest {
                    $crate::__private::describe::<$connector>()
                }
                fn check_credential() -> Result<wit::Account, wit::ConnectorError> {
                    $crate::__private::check_credential::<$connector>()
                }
                fn invoke(action: String, input: String) -> Result<String, wit::ConnectorError> {
                    $crate::__private::invoke::<$connector>(&action, &input)
                }
            }

    $crate::bindings::export_bindings!(Exported with_types_in $crate::bindings);
        };
    };
}
