//! Typed actions: serde for the data, schemars for the schemas the host checks.

use crate::bindings::switchboard::connector::types as wit;
use crate::{Error, Result};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

/// One operation of the connector, with typed input and output.
pub trait Action {
    /// Unique within the connector, `snake_case`.
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Credits one call costs the workspace.
    const CREDIT_COST: u32 = 0;
    type Input: DeserializeOwned + JsonSchema;
    type Output: Serialize + JsonSchema;

    fn run(input: Self::Input) -> Result<Self::Output>;
}

struct Entry {
    name: &'static str,
    description: &'static str,
    credit_cost: u32,
    schemas: fn() -> (String, String),
    run: fn(&str) -> Result<String>,
}

/// The connector's actions by name. Holds function pointers only, so it is
/// cheap to build on every call; schemas are generated only for `describe`.
#[derive(Default)]
pub struct ActionSet {
    entries: Vec<Entry>,
}

impl ActionSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with<A: Action>(mut self) -> Self {
        self.entries.push(Entry {
            name: A::NAME,
            description: A::DESCRIPTION,
            credit_cost: A::CREDIT_COST,
            schemas: schemas::<A>,
            run: run::<A>,
        });
        self
    }

    pub(crate) fn describe(&self) -> Vec<wit::Action> {
        self.entries
            .iter()
            .map(|e| {
                let (input_schema, output_schema) = (e.schemas)();
                wit::Action {
                    name: e.name.to_owned(),
                    description: e.description.to_owned(),
                    input_schema,
                    output_schema,
                    credit_cost: e.credit_cost,
                }
            })
            .collect()
    }

    /// Run the action called `name` on JSON input.
    pub fn run(&self, name: &str, input: &str) -> Result<String> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::InvalidInput(format!("no action named `{name}`")))?;
        (entry.run)(input)
    }
}

/// The input's schema as the action reads it, the output's as it writes it
/// (where serde renames a field one way only, the two differ).
fn schemas<A: Action>() -> (String, String) {
    let input = schemars::schema_for!(A::Input);
    let output = schemars::generate::SchemaSettings::default()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<A::Output>();
    (input.as_value().to_string(), output.as_value().to_string())
}

fn run<A: Action>(input: &str) -> Result<String> {
    let input: A::Input =
        serde_json::from_str(input).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let output = A::run(input)?;
    serde_json::to_string(&output).map_err(|e| Error::Internal(e.to_string()))
}
