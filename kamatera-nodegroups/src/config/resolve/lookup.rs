//! Finding a key's value (in the group, else in `[global]`), parsing it, and reporting
//! problems with where they were written.

use super::*;

impl<'a> Resolver<'a> {
    pub(super) fn push(
        &mut self,
        line: Option<usize>,
        section: &str,
        key: Option<&str>,
        message: String,
    ) {
        if self.defaults_only {
            // Missing keys and conflicts between settings belong to real groups.
            return;
        }
        self.problems.push(ConfigProblem {
            line,
            section: section.to_owned(),
            key: key.map(str::to_owned),
            message,
        });
    }

    /// Reports a bad value at the place it was written, echoing it unless it is secret.
    pub(super) fn bad_value(&mut self, group: &RawGroup, value: Located<'_>, reason: &str) {
        let section = if value.from_global {
            GLOBAL.to_owned()
        } else {
            ini_file::group_label(&group.name)
        };
        let message = if value.secret {
            format!("invalid value: {reason}")
        } else {
            format!("invalid value {:?}: {reason}", value.text)
        };
        self.problems.push(ConfigProblem {
            line: value.line,
            section,
            key: Some(value.key.to_owned()),
            message,
        });
    }

    /// Parses a located value, reporting failures.
    pub(super) fn parse<T>(
        &mut self,
        group: &RawGroup,
        value: Located<'_>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value.text) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.bad_value(group, value, &reason);
                None
            }
        }
    }

    pub(super) fn global_value(&self, key: GlobalKey) -> Option<&'a RawValue> {
        last_set(self.raw.global.values.get(&key))
    }

    /// The effective single value of `setting` for `group`: the group's own, else the
    /// `[global]` default.
    pub(super) fn single(&self, group: &'a RawGroup, setting: Setting) -> Option<Located<'a>> {
        if let Some(value) = last_set(group.values.get(&setting)) {
            return Some(Located {
                text: &value.text,
                line: value.line,
                from_global: false,
                key: setting.group_key(),
                secret: setting.is_secret(),
            });
        }
        self.global_value(GlobalKey::Default(setting))
            .map(|value| Located {
                text: &value.text,
                line: value.line,
                from_global: true,
                key: setting.global_key(),
                secret: setting.is_secret(),
            })
    }

    pub(super) fn list_of(
        values: Option<&'a Vec<RawValue>>,
        from_global: bool,
        key: &'static str,
    ) -> Vec<Located<'a>> {
        values
            .map(|values| {
                values
                    .iter()
                    .map(|value| Located {
                        text: &value.text,
                        line: value.line,
                        from_global,
                        key,
                        secret: false,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The group's own entries of a multi-valued key.
    pub(super) fn group_list(&self, group: &'a RawGroup, setting: Setting) -> Vec<Located<'a>> {
        Self::list_of(group.values.get(&setting), false, setting.group_key())
    }

    /// The `[global]` entries of a multi-valued key.
    pub(super) fn global_list(&self, setting: Setting) -> Vec<Located<'a>> {
        Self::list_of(
            self.raw.global.values.get(&GlobalKey::Default(setting)),
            true,
            setting.global_key(),
        )
    }

    /// A group list that replaces the global one when present (`disk`, `network`).
    pub(super) fn replacing_list(&self, group: &'a RawGroup, setting: Setting) -> Vec<Located<'a>> {
        let own = self.group_list(group, setting);
        if own.is_empty() {
            self.global_list(setting)
        } else {
            own
        }
    }

    /// Reports a required setting that neither the group nor `[global]` sets.
    pub(super) fn missing(&mut self, group: &RawGroup, setting: Setting, what: &str) {
        let message = format!(
            "{what} is required: set `{}` here or `{}` in [global]",
            setting.group_key(),
            setting.global_key()
        );
        self.push(
            group.line,
            &ini_file::group_label(&group.name),
            Some(setting.group_key()),
            message,
        );
    }

    pub(super) fn required<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.single(group, setting) {
            Some(value) => self.parse(group, value, parse),
            None => {
                self.missing(group, setting, what);
                None
            }
        }
    }

    pub(super) fn optional<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ()> {
        match self.single(group, setting) {
            Some(value) => self.parse(group, value, parse).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    pub(super) fn with_default<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.optional(group, setting, parse)
            .ok()
            .map(|v| v.unwrap_or(default))
    }

    /// Multi-valued keys never take an empty entry: it would be sent to the API as is.
    pub(super) fn non_empty_entries(
        &mut self,
        group: &RawGroup,
        entries: Vec<Located<'a>>,
    ) -> Option<Vec<Located<'a>>> {
        let mut ok = true;
        for entry in &entries {
            if entry.text.is_empty() {
                self.bad_value(group, *entry, "empty entry; remove the line");
                ok = false;
            }
        }
        ok.then_some(entries)
    }
}
