//! The deploy task model on its own: task creation, pacing, failures, retries and reloads,
//! with both clocks driven by hand.

use super::*;

const STEP: Duration = Duration::from_secs(1);

fn state_with(bindings: &[(&str, Option<&str>, &str)]) -> DeployState {
    let mut state = DeployState::default();
    for (resource_type, region, instance) in bindings {
        let resource = Binding::parse(resource_type, *region, instance).expect("valid");
        state.bind(resource, "old");
    }
    state
}

fn key(targets: &[(&str, &[&str])]) -> UpdateKey {
    UpdateKey {
        old_certificate_id: "old".into(),
        certificate_id: "new".into(),
        targets: targets
            .iter()
            .map(|(t, regions)| {
                ((*t).to_owned(), regions.iter().map(|r| (*r).to_owned()).collect())
            })
            .collect(),
    }
}

fn later(start: Moment, by: Duration) -> Moment {
    Moment {
        instant: start.instant + by,
        at: start.at + chrono::Duration::from_std(by).expect("small"),
    }
}

fn serving(state: &DeployState, certificate_id: &str) -> Vec<String> {
    state
        .bindings()
        .filter(|b| b.certificate_id == certificate_id)
        .map(|b| b.instance.clone())
        .collect()
}

#[test]
fn the_first_update_is_being_created_the_second_creates_the_task_and_later_ones_find_it() {
    let mut state = state_with(&[("cdn", None, "a.example.com"), ("cdn", None, "b.example.com")]);
    let start = Moment::at(Utc::now());
    assert_eq!(state.update(key(&[("cdn", &[])]), start), (0, 1));
    assert_eq!(state.tasks().count(), 0, "no task yet");
    assert_eq!(state.update(key(&[("cdn", &[])]), start), (1, 1));
    assert_eq!(state.update(key(&[("cdn", &[])]), start), (1, 0), "running: the same task");

    // One resource per step, in order.
    assert!(state.advance(later(start, STEP / 2), STEP, 0.0));
    let statuses = |s: &DeployState| {
        s.task(1).expect("a task").details.iter().map(|d| d.status).collect::<Vec<_>>()
    };
    assert_eq!(statuses(&state), [DEPLOYING, TO_DEPLOY]);
    state.advance(later(start, STEP * 3 / 2), STEP, 0.0);
    assert_eq!(statuses(&state), [SUCCEEDED, DEPLOYING]);
    assert_eq!(serving(&state, "new"), ["a.example.com"]);
    state.advance(later(start, STEP * 2), STEP, 0.0);
    assert_eq!(statuses(&state), [SUCCEEDED, SUCCEEDED]);
    assert_eq!(serving(&state, "new"), ["a.example.com", "b.example.com"]);
    let task = state.task(1).expect("a task");
    assert_eq!(task.status(), SUCCEEDED);
    assert_eq!(task.details[1].update_time, start.at + chrono::Duration::seconds(2));

    // Finished: an identical request starts over, as a new task would.
    assert_eq!(state.update(key(&[("cdn", &[])]), later(start, STEP * 3)), (0, 1));
}

#[test]
fn only_the_requested_types_and_regions_move() {
    let mut state = state_with(&[
        ("clb", Some("ap-guangzhou"), "lb-1|lbl-1"),
        ("clb", Some("ap-shanghai"), "lb-2|lbl-2"),
        ("tke", Some("ap-guangzhou"), "cls-1|default|tls"),
        ("cdn", None, "www.example.com"),
    ]);
    let start = Moment::at(Utc::now());
    let wanted = key(&[("clb", &["ap-guangzhou"]), ("cdn", &[])]);
    state.update(wanted.clone(), start);
    let (id, _) = state.update(wanted, start);
    state.advance(later(start, STEP * 10), STEP, 0.0);
    assert_eq!(state.task(id).expect("a task").details.len(), 2);
    assert_eq!(serving(&state, "new"), ["lb-1|lbl-1", "www.example.com"]);
    assert_eq!(serving(&state, "old"), ["lb-2|lbl-2", "cls-1|default|tls"]);
}

#[test]
fn a_resource_told_to_fail_fails_once_and_a_retry_deploys_it() {
    let mut state = state_with(&[("cdn", None, "a.example.com"), ("cdn", None, "b.example.com")]);
    state.binding_mut(1).expect("bound").fail_next = 1;
    let start = Moment::at(Utc::now());
    state.update(key(&[("cdn", &[])]), start);
    let (id, _) = state.update(key(&[("cdn", &[])]), start);
    state.advance(later(start, STEP * 2), STEP, 0.0);
    let task = state.task(id).expect("a task");
    assert_eq!(task.status(), FAILED);
    assert_eq!(task.details[0].status, FAILED);
    assert!(task.details[0].error_msg.as_deref().expect("a reason").contains("a.example.com"));
    assert_eq!(
        serving(&state, "old"),
        ["a.example.com"],
        "a failed resource keeps its certificate"
    );

    let again = later(start, STEP * 3);
    assert_eq!(state.retry(&[TaskKind::Update], Some(id), None, again), Ok(id));
    assert_eq!(
        state.retry(&[TaskKind::Update], Some(id), None, again),
        Err(TaskError::Running(id))
    );
    state.advance(later(again, STEP), STEP, 0.0);
    assert_eq!(state.task(id).expect("a task").status(), SUCCEEDED);
    assert_eq!(serving(&state, "new"), ["a.example.com", "b.example.com"]);
    assert_eq!(
        state.retry(&[TaskKind::Update], Some(id), None, later(again, STEP * 2)),
        Err(TaskError::NothingFailed(id))
    );
    assert_eq!(state.tasks().count(), 1, "a retry creates no task");
}

#[test]
fn a_task_reloaded_mid_run_starts_its_unfinished_resources_again() {
    let mut state = state_with(&[("cdn", None, "a.example.com")]);
    let start = Moment::at(Utc::now());
    state.update(key(&[("cdn", &[])]), start);
    state.update(key(&[("cdn", &[])]), start);
    let json = serde_json::to_string(&state).expect("serialises");
    let mut reloaded: DeployState = serde_json::from_str(&json).expect("loads");
    let resumed = later(start, STEP * 100);
    reloaded.advance(resumed, STEP, 0.0);
    assert_eq!(reloaded.task(1).expect("a task").details[0].status, DEPLOYING);
    reloaded.advance(later(resumed, STEP), STEP, 0.0);
    assert_eq!(serving(&reloaded, "new"), ["a.example.com"]);
}

#[test]
fn a_task_with_nothing_to_move_finishes_at_once() {
    let mut state = state_with(&[("cdn", None, "a.example.com")]);
    let start = Moment::at(Utc::now());
    state.update(key(&[("waf", &["ap-guangzhou"])]), start);
    let (id, status) = state.update(key(&[("waf", &["ap-guangzhou"])]), start);
    assert_eq!(status, 1);
    let task = state.task(id).expect("a task");
    assert!(task.details.is_empty() && !task.is_running());
    assert_eq!(task.status(), SUCCEEDED);
}

#[test]
fn a_rollback_moves_what_an_update_moved_back_in_a_new_task() {
    let mut state = state_with(&[("cdn", None, "a.example.com"), ("cdn", None, "b.example.com")]);
    state.binding_mut(2).expect("bound").fail_next = 1;
    let start = Moment::at(Utc::now());
    state.update(key(&[("cdn", &[])]), start);
    let (id, _) = state.update(key(&[("cdn", &[])]), start);
    assert_eq!(state.rollback(id, start), Err(TaskError::Running(id)));
    state.advance(later(start, STEP * 2), STEP, 0.0);
    assert_eq!(serving(&state, "new"), ["a.example.com"]);

    let back = state.rollback(id, later(start, STEP * 2)).expect("rolled back");
    assert_ne!(back, id);
    let task = state.task(back).expect("a task");
    assert_eq!(
        (task.kind, task.old_certificate_id.as_deref(), task.certificate_id.as_str()),
        (TaskKind::Rollback, Some("new"), "old")
    );
    assert_eq!(task.details.len(), 1, "only what the update moved");
    state.advance(later(start, STEP * 3), STEP, 0.0);
    assert_eq!(serving(&state, "old"), ["a.example.com", "b.example.com"]);
    assert_eq!(
        state.rollback(back, later(start, STEP * 4)),
        Ok(back + 1),
        "a rollback's own resources can move back again"
    );
}

#[test]
fn the_failure_rate_fails_resources_without_moving_them() {
    let mut state = state_with(&[("cdn", None, "a.example.com")]);
    let start = Moment::at(Utc::now());
    state.update(key(&[("cdn", &[])]), start);
    let (id, _) = state.update(key(&[("cdn", &[])]), start);
    state.advance(later(start, STEP), STEP, 1.0);
    let detail = &state.task(id).expect("a task").details[0];
    assert_eq!(detail.status, FAILED);
    assert!(detail.error_msg.as_deref().is_some_and(|m| m.contains("a.example.com")));
    assert_eq!(serving(&state, "old"), ["a.example.com"]);
}
