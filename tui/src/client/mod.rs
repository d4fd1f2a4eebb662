//! Network side: REST calls, the live link, and the wire format. Runs in tasks; talks to the
//! app only through `Msg`s.

pub mod http;
pub mod stream;
pub mod wire;
