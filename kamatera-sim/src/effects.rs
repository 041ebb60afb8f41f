//! What the server-level commands (suspend, resume, rename, configure) change on completion.

use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::model::{OpKind, Power};
use crate::state::State;

/// The payload a command applies on completion, beyond what its kind implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The server takes this name.
    Rename(String),
    /// One configuration change.
    Configure(ConfigChange),
}

/// The single change a `POST /server/configure` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigChange {
    /// A CPU string such as `4D`.
    Cpu(String),
    /// RAM in MB.
    RamMb(u32),
    /// Daily backup on or off.
    DailyBackup(bool),
    /// Managed services on or off.
    Managed(bool),
    /// `hourly` (traffic cleared), `monthly` with a package, or (billing `None`) a new package only.
    Billing {
        /// The new billing cycle, if it changes.
        billing: Option<String>,
        /// The new traffic package, if any.
        traffic: Option<String>,
    },
}

impl State {
    /// Schedules a command whose completion also applies `effect`.
    pub(crate) fn schedule_with_effect(
        &mut self,
        now: SimMillis,
        new: NewCommand,
        effect: Effect,
    ) -> u64 {
        let id = self.schedule(now, new);
        self.effects.insert(id, effect);
        id
    }

    /// Applies a successful suspend, resume, rename or configure command.
    pub(crate) fn apply_admin(&mut self, kind: OpKind, seq: u64, effect: Option<Effect>) {
        match (kind, effect) {
            (OpKind::Rename, Some(Effect::Rename(name))) => {
                self.rename_server(seq, &name);
                // The queue shows a server's current name, so its earlier commands follow it.
                for cmd in self.commands.values_mut().filter(|c| c.server_seq == seq) {
                    cmd.server_name.clone_from(&name);
                }
            }
            (OpKind::Configure, Some(Effect::Configure(change))) => {
                if let Some(s) = self.server_mut(seq) {
                    match change {
                        ConfigChange::Cpu(cpu) => s.cpu = cpu,
                        ConfigChange::RamMb(ram) => s.ram_mb = ram,
                        ConfigChange::DailyBackup(on) => s.backup = on,
                        ConfigChange::Managed(on) => s.managed = on,
                        ConfigChange::Billing { billing, traffic } => {
                            if let Some(billing) = billing {
                                s.billing = billing;
                            }
                            s.traffic = if s.billing == "hourly" {
                                String::new()
                            } else {
                                traffic.unwrap_or_else(|| s.traffic.clone())
                            };
                        }
                    }
                }
            }
            (OpKind::Suspend, _) => {
                if let Some(s) = self.server_mut(seq) {
                    s.suspended = true;
                    s.power = Power::Off;
                }
            }
            (OpKind::Resume, _) => {
                if let Some(s) = self.server_mut(seq) {
                    s.suspended = false;
                    s.power = Power::On;
                }
            }
            _ => {}
        }
    }
}
