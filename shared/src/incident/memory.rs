//! The in-memory incident store: the embedded default for local replay and unit tests, with
//! the same decisions as the DynamoDB adapter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    GroupSettings, Head, IncidentError, IncidentStore, Member, Placement, Recorded, Window,
    WindowRef, place,
};

#[derive(Debug, Default)]
struct State {
    heads: HashMap<String, Head>,
    windows: BTreeMap<WindowRef, Stored>,
}

#[derive(Debug)]
struct Stored {
    window: Window,
    digested: bool,
}

/// Heads and windows in maps behind one mutex: each record is decided and applied at once.
#[derive(Debug, Default)]
pub struct InMemoryIncidentStore {
    state: Mutex<State>,
}

impl InMemoryIncidentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl IncidentStore for InMemoryIncidentStore {
    async fn record(
        &self,
        key: &str,
        settings: GroupSettings,
        at: i64,
        member: &Member,
        opener: &str,
        _expires_at: i64,
    ) -> Result<Recorded, IncidentError> {
        let mut state = self.lock();
        let head = state.heads.get(key);
        if head.is_some_and(|head| head.opener == opener) {
            return Ok(Recorded::Opened { key: key.to_owned() });
        }
        let index = match place(head, at) {
            Placement::Open => {
                let head = Head {
                    opened: at,
                    window: settings.window_secs(),
                    last_active: 0,
                    opener: opener.to_owned(),
                    crash_loop: false,
                };
                state.heads.insert(key.to_owned(), head);
                return Ok(Recorded::Opened { key: key.to_owned() });
            }
            Placement::Window(index) => index,
        };
        let State { heads, windows } = &mut *state;
        let Some(head) = heads.get_mut(key) else {
            return Err(IncidentError {
                operation: "record",
                key: key.to_owned(),
                message: "the incident vanished".into(),
                retryable: true,
            });
        };
        let window = WindowRef { key: key.to_owned(), opened: head.opened, index };
        let start = head.opened + i64::from(index - 1) * head.window;
        let stored = windows.entry(window.clone()).or_insert_with(|| Stored {
            window: Window {
                window: window.clone(),
                start,
                end: start + head.window,
                members: Vec::new(),
                overflow: 0,
                crash_loop: false,
            },
            digested: false,
        });
        if stored.window.members.iter().any(|counted| counted.id == member.id) {
            return Ok(Recorded::AlreadyCounted { window });
        }
        stored.window.members.push(member.clone());
        stored.window.members.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        // The opening alert is a stop of the first window too.
        let stops = stored.window.count() + u64::from(index == 1);
        let crash_loop = head.crash_loop || stops >= u64::from(settings.crash_loop_after);
        stored.window.crash_loop |= crash_loop;
        head.crash_loop = crash_loop;
        head.last_active = head.last_active.max(index);
        Ok(Recorded::Counted { window, crash_loop })
    }

    async fn due(&self, now: Option<i64>) -> Result<Vec<WindowRef>, IncidentError> {
        let mut due: Vec<(i64, WindowRef)> = self
            .lock()
            .windows
            .values()
            .filter(|stored| !stored.digested && stored.window.count() > 0)
            .filter(|stored| now.is_none_or(|now| stored.window.end <= now))
            .map(|stored| (stored.window.end, stored.window.window.clone()))
            .collect();
        due.sort();
        Ok(due.into_iter().map(|(_, window)| window).collect())
    }

    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError> {
        Ok(self.lock().windows.get(window).map(|stored| stored.window.clone()))
    }

    async fn digested(&self, window: &WindowRef) -> Result<(), IncidentError> {
        if let Some(stored) = self.lock().windows.get_mut(window) {
            stored.digested = true;
        }
        Ok(())
    }
}
