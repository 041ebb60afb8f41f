//! What reading and checking a cloud-config file can fail with.

use std::fmt;
use std::path::PathBuf;

/// Why a cloud config could not be loaded: [`CloudConfig::from_file`] and
/// [`CloudConfig::parse`] return it.
///
/// [`CloudConfig::from_file`]: super::CloudConfig::from_file
/// [`CloudConfig::parse`]: super::CloudConfig::parse
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cloud-config file could not be read at all.
    #[error("cannot read cloud config {}", path.display())]
    ReadConfig {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },

    /// The cloud config was read but is invalid. Every problem found is listed, so a user
    /// can fix them all in one go.
    #[error("{}", ConfigProblemList { file, problems })]
    Invalid {
        /// The name the file is reported under (its path, or a label such as `<stdin>`).
        file: String,
        /// All problems, in file order where lines are known. Never empty.
        problems: Vec<ConfigProblem>,
    },
}

/// The result of loading a cloud config.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The configuration problems, if this is an [`Error::Invalid`]; empty otherwise.
    pub fn config_problems(&self) -> &[ConfigProblem] {
        match self {
            Error::Invalid { problems, .. } => problems,
            Error::ReadConfig { .. } => &[],
        }
    }
}

/// One mistake in a cloud-config file, with where it is.
///
/// Messages never contain secret values (API secret, client id, passwords, init scripts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// 1-based line number, when the problem can be tied to one line.
    pub line: Option<usize>,
    /// The section in INI header syntax without brackets, e.g. `global` or
    /// `nodegroup "ng1"`. Empty only for problems of the file's syntax as a whole.
    pub section: String,
    /// The key at fault, in lower case (e.g. `max-size`), if the problem is about a key.
    pub key: Option<String>,
    /// What is wrong and what is accepted instead.
    pub message: String,
}

impl ConfigProblem {
    /// Formats the problem prefixed with the file name: `file:12: [global] key: message`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        LocatedProblem {
            file,
            problem: self,
        }
    }
}

impl fmt::Display for ConfigProblem {
    /// Formats the problem without a file name: `12: [global] key: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "{line}: ")?;
        }
        write_location_and_message(self, f)
    }
}

fn write_location_and_message(problem: &ConfigProblem, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if !problem.section.is_empty() {
        write!(f, "[{}] ", problem.section)?;
    }
    if let Some(key) = &problem.key {
        write!(f, "{key}: ")?;
    }
    f.write_str(&problem.message)
}

struct LocatedProblem<'a> {
    file: &'a str,
    problem: &'a ConfigProblem,
}

impl fmt::Display for LocatedProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem.line {
            Some(line) => write!(f, "{}:{line}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write_location_and_message(self.problem, f)
    }
}

struct ConfigProblemList<'a> {
    file: &'a str,
    problems: &'a [ConfigProblem],
}

impl fmt::Display for ConfigProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "invalid cloud config {}: {count} {noun}", self.file)?;
        for problem in self.problems {
            write!(f, "\n  {}", problem.in_file(self.file))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: Option<usize>, key: Option<&str>) -> ConfigProblem {
        ConfigProblem {
            line,
            section: "nodegroup \"ng1\"".to_owned(),
            key: key.map(str::to_owned),
            message: "must be a whole number".to_owned(),
        }
    }

    #[test]
    fn problem_names_file_line_section_and_key() {
        let p = problem(Some(12), Some("max-size"));
        assert_eq!(
            p.in_file("cloud-config.ini").to_string(),
            "cloud-config.ini:12: [nodegroup \"ng1\"] max-size: must be a whole number"
        );
        let p = problem(None, None);
        assert_eq!(
            p.in_file("c.ini").to_string(),
            "c.ini: [nodegroup \"ng1\"] must be a whole number"
        );
    }

    #[test]
    fn config_error_lists_every_problem() {
        let err = Error::Invalid {
            file: "c.ini".to_owned(),
            problems: vec![
                problem(Some(3), Some("min-size")),
                problem(Some(4), Some("max-size")),
            ],
        };
        let text = err.to_string();
        assert!(
            text.starts_with("invalid cloud config c.ini: 2 problems"),
            "{text}"
        );
        assert!(
            text.contains("c.ini:3: [nodegroup \"ng1\"] min-size:"),
            "{text}"
        );
        assert!(
            text.contains("c.ini:4: [nodegroup \"ng1\"] max-size:"),
            "{text}"
        );
        assert_eq!(err.config_problems().len(), 2);
    }
}
