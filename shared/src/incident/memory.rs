//! The in-memory incident store: the embedded default for local replay and unit tests, with
//! the same decisions as the DynamoDB adapter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    Clock, GroupSettings, Head, IncidentError, IncidentStore, Member, Placement, Recorded, Window,
    WindowRef, after_told, place,
};

#[derive(Debug, Default)]
struct State {
    heads: HashMap<String, Head>,
    windows: BTreeMap<WindowRef, Stored>,
}

#[derive(Debug)]
struct Stored {
    start: i64,
    end: i64,
    members: BTreeMap<String, Member>,
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

impl State {
    /// Counts `member` into `window` (`start`..`end`) once; if that window was told already,
    /// into the late bucket of `clock` (and after that one, the next), as the DynamoDB adapter.
    fn count(
        &mut self,
        mut window: WindowRef,
        mut span: (i64, i64),
        member: &Member,
        clock: Clock,
        length: i64,
    ) -> Recorded {
        while self.windows.get(&window).is_some_and(|stored| stored.digested) {
            (window, span) = after_told(window, clock, length);
        }
        let stored = self.windows.entry(window.clone()).or_insert_with(|| Stored {
            start: span.0,
            end: span.1,
            members: BTreeMap::new(),
            digested: false,
        });
        if stored.members.contains_key(&member.id) {
            return Recorded::AlreadyCounted { window };
        }
        stored.members.insert(member.id.clone(), member.clone());
        Recorded::Counted { window }
    }
}

#[async_trait]
impl IncidentStore for InMemoryIncidentStore {
    async fn record(
        &self,
        key: &str,
        settings: GroupSettings,
        member: &Member,
        opener: &str,
        clock: Clock,
        _expires_at: i64,
    ) -> Result<Recorded, IncidentError> {
        let mut state = self.lock();
        let head = state.heads.get(key);
        if let Some(head) = head.filter(|head| head.opener == opener) {
            return Ok(Recorded::Opened { key: key.to_owned(), opened: head.opened });
        }
        let length = settings.window_secs();
        match place(head, member.at, clock, length) {
            Placement::Open => {
                state.heads.insert(key.to_owned(), Head::opening(member.at, length, opener));
                Ok(Recorded::Opened { key: key.to_owned(), opened: member.at })
            }
            Placement::Late { bucket, own } => {
                // A retry of a match already counted into its own window counts no more.
                if let Some(index) = own {
                    let opened = head.map_or(0, |head| head.opened);
                    let window = WindowRef { key: key.to_owned(), opened, index };
                    if state
                        .windows
                        .get(&window)
                        .is_some_and(|s| s.members.contains_key(&member.id))
                    {
                        return Ok(Recorded::AlreadyCounted { window });
                    }
                }
                let window = WindowRef { key: key.to_owned(), opened: bucket, index: 0 };
                Ok(state.count(window, (bucket, bucket + length), member, clock, length))
            }
            Placement::Window(index) => {
                let Some(head) = state.heads.get_mut(key) else {
                    return Err(IncidentError {
                        operation: "record",
                        key: key.to_owned(),
                        message: "the incident vanished".into(),
                        retryable: true,
                    });
                };
                head.last_active = head.last_active.max(index);
                let window = WindowRef { key: key.to_owned(), opened: head.opened, index };
                let span = window.span(head.window);
                Ok(state.count(window, span, member, clock, length))
            }
        }
    }

    async fn due(&self, until: Option<i64>, limit: usize) -> Result<Vec<WindowRef>, IncidentError> {
        let mut due: Vec<(i64, WindowRef)> = self
            .lock()
            .windows
            .iter()
            .filter(|(_, stored)| !stored.digested && !stored.members.is_empty())
            .filter(|(_, stored)| until.is_none_or(|until| stored.end <= until))
            .map(|(window, stored)| (stored.end, window.clone()))
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, window)| window).collect())
    }

    async fn window(&self, window: &WindowRef) -> Result<Option<Window>, IncidentError> {
        let state = self.lock();
        let crash_loop_before = state
            .heads
            .get(&window.key)
            .is_some_and(|head| head.opened == window.opened && head.crash_loop);
        Ok(state.windows.get(window).map(|stored| {
            let mut members: Vec<Member> = stored.members.values().cloned().collect();
            members.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
            Window {
                window: window.clone(),
                start: stored.start,
                end: stored.end,
                members,
                crash_loop_before,
            }
        }))
    }

    async fn digested(&self, window: &WindowRef, crash_loop: bool) -> Result<(), IncidentError> {
        let mut state = self.lock();
        if let Some(stored) = state.windows.get_mut(window) {
            stored.digested = true;
        }
        if crash_loop
            && !window.is_late()
            && let Some(head) = state.heads.get_mut(&window.key)
            && head.opened == window.opened
        {
            head.crash_loop = true;
        }
        Ok(())
    }
}
