//! The one integration-test binary: it runs the built `followup` in temp
//! dirs, against local servers, with injected time.

mod bad_input;
mod bundle;
mod channels;
mod conversations;
mod digests;
mod examples;
mod list;
mod operate;
mod operating_files;
mod pass;
mod pass_more;
mod reliability;
mod schema;
mod shipped;
mod show;
mod sources;
mod support;
mod validate;
mod wizard;
