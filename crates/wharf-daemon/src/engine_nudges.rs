//! Wakes a container's driver when the engine reports a change of its container, so
//! `ps`, `--wait` and the events stream hear of a `docker kill` or a restart by policy
//! as it happens; the driver's own looks stay as the fallback when the engine's stream
//! is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use wharf_engine::Engine;

/// How long to wait before asking the engine for its news again, after it stopped.
const RECONNECT: Duration = Duration::from_secs(1);

/// Each followed container's wake-up, by container id; and the containers the engine
/// reported a change of that no driver follows (one stopped, then removed by another
/// tool), for the daemon to look at.
#[derive(Default)]
pub struct EngineNudges {
    followed: Mutex<HashMap<String, Arc<Notify>>>,
    unfollowed: Mutex<Vec<String>>,
    unfollowed_news: Notify,
}

impl EngineNudges {
    /// Follows the container `id` until the returned handle is dropped.
    pub fn follow(self: &Arc<Self>, id: &str) -> Followed {
        let notify = Arc::new(Notify::new());
        self.lock().insert(id.to_owned(), Arc::clone(&notify));
        Followed {
            nudges: Arc::clone(self),
            id: id.to_owned(),
            notify,
        }
    }

    pub fn nudge(&self, id: &str) {
        if let Some(notify) = self.lock().get(id) {
            // A permit is kept when the driver is busy: it looks once more after.
            notify.notify_one();
            return;
        }
        self.unfollowed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id.to_owned());
        self.unfollowed_news.notify_one();
    }

    /// The containers no driver follows that the engine reported a change of, once
    /// there are any.
    pub async fn unfollowed(&self) -> Vec<String> {
        loop {
            let found = std::mem::take(
                &mut *self
                    .unfollowed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if !found.is_empty() {
                return found;
            }
            self.unfollowed_news.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One container followed; its driver awaits `changed`.
pub struct Followed {
    nudges: Arc<EngineNudges>,
    id: String,
    notify: Arc<Notify>,
}

impl Followed {
    /// Resolves when the engine has reported a change of the container.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Followed {
    fn drop(&mut self) {
        self.nudges.lock().remove(&self.id);
    }
}

/// Hands the engine's news to the followed containers, for as long as the daemon runs.
pub async fn relay(engine: Arc<Engine>, nudges: Arc<EngineNudges>) {
    loop {
        let mut changes = Box::pin(engine.container_changes());
        while let Some(Ok(id)) = changes.next().await {
            nudges.nudge(&id);
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
