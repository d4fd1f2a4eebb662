//! Evolution's JSON, rendered once, at the edge: the message record, group metadata and event
//! payloads, from the typed domain the instance layer and the store keep. Nothing below the API
//! and the event writers builds Evolution's shapes.

pub mod call;
pub mod event;
pub mod group;
pub mod history;
pub mod interactive;
pub mod message;
