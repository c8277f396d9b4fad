//! An action's parameters, taken one by one with their types checked, so that every action
//! reports a missing, mistyped or unknown parameter with the same codes the real service uses;
//! and the common `Region` parameter, which API 3.0 sends as the `X-TC-Region` header.

use serde_json::{Map, Value};

use super::{Failure, fail, missing_parameter};

/// A request's parameters, taken one by one with their types checked; parameters left over
/// are unknown to the action.
pub(super) struct Params {
    map: Map<String, Value>,
    region: Option<String>,
}

impl Params {
    pub(super) fn new(map: Map<String, Value>, region: Option<String>) -> Self {
        Params { map, region }
    }

    /// Returns the common parameter `Region`, if the request named one.
    pub(super) fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    pub(super) fn string(&mut self, name: &str) -> Result<Option<String>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be a string.")))
            }
        }
    }

    pub(super) fn required_string(&mut self, name: &str) -> Result<String, Failure> {
        self.string(name)?.ok_or_else(|| missing_parameter(name))
    }

    pub(super) fn integer(&mut self, name: &str) -> Result<Option<u64>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                fail(
                    "InvalidParameter",
                    format!("The parameter `{name}` must be a non-negative integer."),
                )
            }),
        }
    }

    /// Takes an integer that the SDK's model types as a string (`"10"`), as
    /// `DescribeHostUpdateRecordDetail` does with all three of its parameters: a JSON number
    /// is refused like any other mistyped parameter.
    pub(super) fn string_integer(&mut self, name: &str) -> Result<Option<u64>, Failure> {
        match self.string(name)? {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                fail(
                    "InvalidParameterValue",
                    format!("The parameter `{name}` must be a non-negative integer in a string, not `{text}`."),
                )
            }),
        }
    }

    pub(super) fn boolean(&mut self, name: &str) -> Result<Option<bool>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be a boolean.")))
            }
        }
    }

    pub(super) fn list<T>(
        &mut self,
        name: &str,
        item: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                items.iter().map(&item).collect::<Option<Vec<T>>>().map(Some).ok_or_else(|| {
                    fail(
                        "InvalidParameter",
                        format!("The parameter `{name}` has an element of the wrong type."),
                    )
                })
            }
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be an array.")))
            }
        }
    }

    /// Takes a string parameter that must be one of `choices` (its text, and what it stands
    /// for); returns what the one given stands for, `None` when absent.
    pub(super) fn one_of<T: Copy>(
        &mut self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, Failure> {
        let Some(given) = self.string(name)? else { return Ok(None) };
        match choices.iter().find(|(text, _)| *text == given) {
            Some((_, value)) => Ok(Some(*value)),
            None => {
                let texts: Vec<&str> = choices.iter().map(|(text, _)| *text).collect();
                Err(fail(
                    "InvalidParameterValue",
                    format!("{name} `{given}` is not one of {}.", texts.join(", ")),
                ))
            }
        }
    }

    /// Takes a parameter whatever its value; returns whether it was given (and not null).
    pub(super) fn given(&mut self, name: &str) -> bool {
        self.take(name).is_some()
    }

    /// Accepts and ignores documented parameters the sandbox does not model.
    pub(super) fn ignore(&mut self, names: &[&str]) {
        for name in names {
            self.map.remove(*name);
        }
    }

    /// Refuses parameters the action does not have.
    pub(super) fn finish(self) -> Result<(), Failure> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(name) => {
                Err(fail("UnknownParameter", format!("The parameter `{name}` is not recognized.")))
            }
        }
    }
}
