//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cases;
pub mod files;
pub mod prop;
pub mod stores;
