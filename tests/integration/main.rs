//! The one integration-test binary: it runs the built `followup` in temp
//! dirs, against local servers, with injected time.

mod bundle;
mod support;
