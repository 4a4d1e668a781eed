//! Quarry's core: the understanding contract, taxonomies, the prompt layer,
//! the streaming parser, routing and trust. Everything except matrix maths
//! lives here so that the native server, the browser and the edge workers
//! route and deny queries identically.
//!
//! Data flows one way: [`contract::Input`] → [`trust`] screen →
//! [`router`] (driving a [`generator::Generator`] with [`prompt`]s) →
//! [`stream`] parser → [`tools`] execution → [`contract::Output`].

pub mod contract;
pub mod decode;
pub mod engine;
pub mod error;
pub mod eval;
pub mod generator;
pub mod gguf;
pub mod lexicon;
pub mod model;
pub mod planner;
pub mod prompt;
pub mod rewriter;
pub mod router;
pub mod stream;
pub mod suggest;
pub mod taxonomy;
pub mod text;
pub mod tokenizer;
pub mod tools;
pub mod trust;

pub use contract::{Event, Input, Intent, Output, Profile, Seniority, ToolCall, ToolName};
pub use error::{QuarryError, Result};
pub use generator::{Constraint, GenerationRequest, GenerationStats, Generator};
pub use router::{Routed, Router};
pub use taxonomy::Taxonomy;
