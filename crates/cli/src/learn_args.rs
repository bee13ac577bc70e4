//! Flags shared by `train` and `evaluate`: how a feature table is read.

use std::path::PathBuf;

use mqtt_ids_learn::table::{LabelSource, TableOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct TableArgs {
    /// How tables are read: `mqttset2020` (label column `target`, the paper's columns),
    /// `hindy2020` (class from the file name, `is_attack`, the paper's dropped columns), or
    /// `label:COLUMN` (class names in COLUMN). Default: the model preset's table when it names a
    /// paper, else `label:target`.
    #[arg(long, value_name = "PRESET")]
    pub table: Option<String>,
    /// Further columns to leave out (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    pub exclude: Vec<String>,
    /// Feature tables: our CSV output or the published dataset CSVs, unchanged.
    #[arg(required = true, value_name = "DATA")]
    pub data: Vec<PathBuf>,
}

impl TableArgs {
    /// The table options, falling back on `preset`'s paper.
    pub fn options(&self, preset: Option<&str>) -> Result<TableOptions, String> {
        let name = self
            .table
            .as_deref()
            .or(preset.filter(|p| matches!(*p, "mqttset2020" | "hindy2020")))
            .unwrap_or("label:target");
        let mut options = match name {
            "mqttset2020" => TableOptions::mqttset2020(),
            "hindy2020" => TableOptions::hindy2020(),
            other => match other.strip_prefix("label:") {
                Some(column) if !column.is_empty() => TableOptions {
                    label: LabelSource::Column(column.to_string()),
                    ..TableOptions::with_label_column(column)
                },
                _ => {
                    return Err(format!(
                        "unknown table preset '{other}'; expected mqttset2020, hindy2020 or \
                         label:COLUMN"
                    ))
                }
            },
        };
        options.exclude.extend(self.exclude.iter().cloned());
        Ok(options)
    }
}
