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
    /// Categorical columns to one-hot encode: one 0/1 column `COLUMN=value` per category seen
    /// (comma-separated). Kept even where the table preset leaves the column out (Hindy et
    /// al.'s code encoded the packet `protocol` so). Without it a text column is an error,
    /// except under `mqttset2020`, which hashes its text fields.
    #[arg(long = "one-hot", value_delimiter = ',', value_name = "COLUMN,...")]
    pub one_hot: Vec<String>,
    /// Columns whose values, within each file, name a row's group (the `context` and `session`
    /// sets' `conn_id`): `evaluate` then splits by group, never putting one connection on both
    /// sides. They are left out of the features.
    #[arg(long = "group-by", value_delimiter = ',', value_name = "COLUMN,...")]
    pub group_by: Vec<String>,
    /// Feature tables: our CSV or Parquet output (a name ending in `.parquet` is read as
    /// Parquet), or the published dataset CSVs, unchanged.
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
        if let Some(both) = self.one_hot.iter().find(|c| self.exclude.contains(c)) {
            return Err(format!(
                "column '{both}' is given to both --exclude and --one-hot"
            ));
        }
        if let Some(both) = self.one_hot.iter().find(|c| self.group_by.contains(c)) {
            return Err(format!(
                "column '{both}' is given to both --group-by and --one-hot"
            ));
        }
        options.exclude.extend(self.exclude.iter().cloned());
        options.exclude.extend(self.group_by.iter().cloned());
        options.group_columns.extend(self.group_by.iter().cloned());
        for column in &self.one_hot {
            if !options.one_hot.contains(column) {
                options.one_hot.push(column.clone());
            }
        }
        Ok(options)
    }
}
