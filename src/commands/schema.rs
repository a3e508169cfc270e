//! `followup schema [--tenant]`: JSON Schema (draft-07) for editors.

use std::io::Write;
use std::process::ExitCode;

use schemars::generate::SchemaSettings;

use crate::cli::SchemaArgs;
use crate::definition::model::{Definition, TenantFile};

pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = if args.tenant {
        generator.into_root_schema_for::<TenantFile>()
    } else {
        generator.into_root_schema_for::<Definition>()
    };
    let title = if args.tenant {
        "followup tenant.yaml"
    } else {
        "followup definition"
    };
    schema.insert("title".into(), title.into());
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}
