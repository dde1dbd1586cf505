//! The conformance suite, continued: users, tokens, roles and sessions, jobs, and online
//! endpoints and deployments, each expanded for SQLite and PostgreSQL by `conformance!`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::authz::{RoleDefinition, RoleScope};
use atelier_core::endpoint::{AuthMode, Deployment, Endpoint, ProvisioningState};
use atelier_core::job::{Job, JobEvent, JobKind, JobStatus, ResourceRequest};
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_store::{
    AccessStore, EndpointStore, GcStore, JobQuery, JobStore, JobTransition, RoleStore, Session, SignInRequest,
    SqlStore, TrackingStore,
};
use std::collections::BTreeMap;

conformance!(
    users_tokens_and_roles,
    custom_roles_stay_while_assigned,
    sessions_expire_and_end,
    jobs_move_forward_keep_their_logs_and_queue_in_order,
    a_cancel_and_a_start_of_one_queued_job_take_turns,
    sweep_trials_are_kept_once_each_with_their_values,
    pipeline_steps_are_kept_once_each_and_found_by_reuse_key,
    endpoints_and_deployments_round_trip,
);

async fn users_tokens_and_roles(store: &SqlStore) {
    let workspace = with_workspace(store, "people").await;
    let alice = UserName::parse("alice").unwrap();
    store
        .create_user(&User { name: alice.clone(), is_admin: false, created_at: 1, disabled_at: None }, Some("hash"))
        .await
        .unwrap();
    let error = store
        .create_user(&User { name: alice.clone(), is_admin: false, created_at: 1, disabled_at: None }, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(store.get_user(&alice).await.unwrap().password_hash.as_deref(), Some("hash"));
    let token = TokenInfo {
        id: "t1".into(),
        user: alice.clone(),
        description: "ci".into(),
        created_at: 1,
        expires_at: Some(100),
        scope: TokenScope::Metrics,
        last_used_at: None,
    };
    store.create_token(&token, "abc").await.unwrap();
    let (found, user) = store.find_token("abc", 50).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), user.name.as_str()), ("t1", "alice"));
    assert_eq!(found.scope, TokenScope::Metrics, "a token's scope is kept");
    assert_eq!(store.get_token("t1").await.unwrap(), token);
    assert!(store.find_token("abc", 100).await.unwrap().is_none(), "an expired token must not be found");
    assert!(store.find_token("nope", 50).await.unwrap().is_none());
    assert_eq!(store.list_tokens(Some(&alice)).await.unwrap().len(), 1);
    // A token's last use only moves forward.
    store.touch_token("t1", 40).await.unwrap();
    store.touch_token("t1", 30).await.unwrap();
    assert_eq!(store.get_token("t1").await.unwrap().last_used_at, Some(40));
    assert_eq!(store.list_tokens(Some(&alice)).await.unwrap()[0].last_used_at, Some(40));
    // A disabled user's tokens and sessions are not found; enabled again, their tokens are.
    let session =
        Session { id_hash: "s1".into(), user: alice.clone(), csrf_token: "c".into(), created_at: 1, expires_at: 1_000 };
    store.create_session(&session).await.unwrap();
    assert!(store.find_session("s1", 50).await.unwrap().is_some());
    store.set_user_disabled(&alice, Some(45)).await.unwrap();
    assert_eq!(store.get_user(&alice).await.unwrap().user.disabled_at, Some(45));
    assert!(store.find_token("abc", 50).await.unwrap().is_none(), "a disabled user's token must not be found");
    assert!(store.find_session("s1", 50).await.unwrap().is_none(), "a disabled user's session must not be found");
    store.set_user_disabled(&alice, None).await.unwrap();
    assert!(store.find_token("abc", 50).await.unwrap().is_some());
    assert!(store.find_session("s1", 50).await.unwrap().is_none(), "disabling ended the session");
    let nobody = UserName::parse("nobody").unwrap();
    assert_eq!(store.set_user_disabled(&nobody, Some(1)).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.delete_token("t1").await.unwrap();
    assert!(store.find_token("abc", 50).await.unwrap().is_none());
    // A single sign-on round trip is taken once, and not after it expired.
    let request = SignInRequest {
        state_hash: "state".into(),
        browser_hash: "browser".into(),
        nonce: "nonce".into(),
        verifier: "verifier".into(),
        next_path: "/w/default".into(),
        expires_at: 1_000,
    };
    store.create_sign_in_request(&request, 1).await.unwrap();
    assert_eq!(store.take_sign_in_request("state", 500).await.unwrap(), Some(request.clone()));
    assert_eq!(store.take_sign_in_request("state", 500).await.unwrap(), None, "a state works once");
    store.create_sign_in_request(&SignInRequest { state_hash: "late".into(), ..request.clone() }, 1).await.unwrap();
    assert_eq!(store.take_sign_in_request("late", 1_000).await.unwrap(), None, "an expired round trip is refused");
    // Making one sweeps those expired.
    store.create_sign_in_request(&SignInRequest { state_hash: "old".into(), ..request.clone() }, 1).await.unwrap();
    store
        .create_sign_in_request(&SignInRequest { state_hash: "new".into(), expires_at: 3_000, ..request }, 2_000)
        .await
        .unwrap();
    assert_eq!(store.take_sign_in_request("old", 1).await.unwrap(), None, "the expired one was swept");
    assert!(store.take_sign_in_request("new", 2_000).await.unwrap().is_some());
    assert_eq!(store.take_sign_in_request("nothing", 1).await.unwrap(), None);
    assert!(store.roles_of(&workspace, &alice).await.unwrap().is_empty());
    store.assign_role(&workspace, &alice, "Reader", true).await.unwrap();
    store.assign_role(&workspace, &alice, "Contributor", true).await.unwrap();
    store.assign_role(&workspace, &alice, "Reader", true).await.unwrap();
    assert_eq!(store.roles_of(&workspace, &alice).await.unwrap(), ["Contributor", "Reader"], "roles add up, once each");
    assert_eq!(
        store.list_roles(&workspace).await.unwrap(),
        vec![(alice.clone(), "Contributor".to_owned()), (alice.clone(), "Reader".to_owned())]
    );
    store.remove_role(&workspace, &alice, Some("Reader")).await.unwrap();
    assert_eq!(store.roles_of(&workspace, &alice).await.unwrap(), ["Contributor"]);
    let missing = store.remove_role(&workspace, &alice, Some("Reader")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    store.remove_role(&workspace, &alice, None).await.unwrap();
    assert_eq!(store.remove_role(&workspace, &alice, None).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn custom_roles_stay_while_assigned(store: &SqlStore) {
    let team = with_workspace(store, "team-a").await;
    let other = with_workspace(store, "team-b").await;
    let carol = UserName::parse("carol").unwrap();
    store
        .create_user(&User { name: carol.clone(), is_admin: false, created_at: 1, disabled_at: None }, None)
        .await
        .unwrap();
    let role = RoleDefinition::custom(
        "Endpoint Operator",
        "endpoints, no keys",
        vec!["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*".into()],
        vec!["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*/action".into()],
        vec![RoleScope::Server],
    )
    .unwrap();
    let assigned = store.assign_role(&team, &carol, "Endpoint Operator", false).await.unwrap_err();
    assert_eq!(assigned.code, ErrorCode::ResourceDoesNotExist, "a custom role is assigned only once it exists");
    store.create_role_definition(&role, &carol, 10).await.unwrap();
    let again = RoleDefinition { name: "endpoint operator".into(), ..role.clone() };
    assert_eq!(
        store.create_role_definition(&again, &carol, 11).await.unwrap_err().code,
        ErrorCode::ResourceAlreadyExists
    );
    let stored = store.get_role_definition("ENDPOINT OPERATOR").await.unwrap().expect("found without regard to case");
    assert_eq!((stored.definition.clone(), stored.created_by.as_str(), stored.created_at), (role.clone(), "carol", 10));
    store.assign_role(&team, &carol, "Endpoint Operator", false).await.unwrap();
    store.assign_role(&other, &carol, "Endpoint Operator", false).await.unwrap();
    let deleted = store.delete_role_definition("endpoint operator").await.unwrap_err();
    assert!(deleted.message.contains("'team-a', 'team-b'"), "{}", deleted.message);
    let narrowed = RoleDefinition { assignable_scopes: vec![RoleScope::Workspace(team.clone())], ..role.clone() };
    let refused = store.update_role_definition(&narrowed, 20).await.unwrap_err();
    assert!(refused.message.contains("'team-b'") && !refused.message.contains("'team-a'"), "{}", refused.message);
    store.remove_role(&other, &carol, Some("Endpoint Operator")).await.unwrap();
    store.update_role_definition(&narrowed, 20).await.unwrap();
    let updated = store.get_role_definition("Endpoint Operator").await.unwrap().unwrap();
    assert_eq!((updated.definition.assignable_scopes, updated.updated_at), (narrowed.assignable_scopes.clone(), 20));
    assert_eq!(store.list_role_definitions().await.unwrap().len(), 1);
    store.remove_role(&team, &carol, None).await.unwrap();
    store.delete_role_definition("Endpoint Operator").await.unwrap();
    assert!(store.get_role_definition("Endpoint Operator").await.unwrap().is_none());
    assert_eq!(
        store.delete_role_definition("Endpoint Operator").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

async fn sessions_expire_and_end(store: &SqlStore) {
    let bob = UserName::parse("bob").unwrap();
    store
        .create_user(&User { name: bob.clone(), is_admin: false, created_at: 1, disabled_at: None }, Some("hash"))
        .await
        .unwrap();
    let session =
        Session { id_hash: "h1".into(), user: bob.clone(), csrf_token: "c1".into(), created_at: 10, expires_at: 100 };
    store.create_session(&session).await.unwrap();
    let (found, user) = store.find_session("h1", 50).await.unwrap().unwrap();
    assert_eq!((found.csrf_token.as_str(), user.name.as_str()), ("c1", "bob"));
    assert!(store.find_session("h1", 100).await.unwrap().is_none(), "an expired session is not found");
    assert!(store.find_session("other", 50).await.unwrap().is_none());
    // Making a session later sweeps the expired one.
    let later = Session { id_hash: "h2".into(), user: bob, csrf_token: "c2".into(), created_at: 200, expires_at: 300 };
    store.create_session(&later).await.unwrap();
    assert!(store.find_session("h1", 50).await.unwrap().is_none());
    store.delete_session("h2").await.unwrap();
    assert!(store.find_session("h2", 250).await.unwrap().is_none());
}

fn new_job(workspace: &WorkspaceName, name: &str, priority: i64) -> (Job, RunInfo) {
    let job = Job {
        workspace: workspace.clone(),
        name: name.to_owned(),
        display_name: None,
        description: None,
        kind: JobKind::Command,
        parent: None,
        trial: None,
        step: None,
        reused_from: None,
        reuse_key: None,
        experiment_id: 0,
        experiment_name: "Default".to_owned(),
        compute: "local".to_owned(),
        status: JobStatus::Queued,
        priority,
        resources: ResourceRequest::default(),
        tags: BTreeMap::new(),
        spec_yaml: "command: echo\n".to_owned(),
        submission: None,
        plan: "{}".to_owned(),
        snapshot: Some("0123".to_owned()),
        created_by: "tester".to_owned(),
        created_at: 10,
        exit_code: None,
        error: None,
        warnings: vec!["a warning".to_owned()],
        archived: false,
        runtime_pid: None,
        runtime_start: None,
        assigned_gpus: Vec::new(),
        heartbeat_at: None,
        cluster_state: None,
        events: vec![
            JobEvent { status: JobStatus::NotStarted, time: 10, message: None },
            JobEvent { status: JobStatus::Queued, time: 10, message: None },
        ],
    };
    let mut run = run_info(workspace, 0, 0, name, 10);
    run.run_id = RunId::parse(name).unwrap();
    run.status = RunStatus::Scheduled;
    (job, run)
}

/// What a restarted server rebuilds a sweep from: its trials, each kept once under its index,
/// with the values it was given as its run's params.
async fn sweep_trials_are_kept_once_each_with_their_values(store: &SqlStore) {
    let workspace = with_workspace(store, "sweeps").await;
    let (mut sweep, run) = new_job(&workspace, "tune", 2);
    sweep.kind = JobKind::Sweep;
    store.create_job(&sweep, &run, &[], &[], "hash-tune", &[]).await.unwrap();
    for index in [1, 0] {
        let name = format!("tune_{index}");
        let (mut trial, run) = new_job(&workspace, &name, 2);
        (trial.parent, trial.trial) = (Some("tune".to_owned()), Some(index));
        let params = [Param { key: "lr".into(), value: format!("0.{index}") }];
        let tags = [Tag::new("mlflow.parentRunId", "tune")];
        store.create_job(&trial, &run, &tags, &params, &format!("hash-{name}"), &[]).await.unwrap();
    }
    // The same index again, under another name (a second server, or a pass repeated).
    let (mut again, run) = new_job(&workspace, "tune_again", 2);
    (again.parent, again.trial) = (Some("tune".to_owned()), Some(1));
    let refused = store.create_job(&again, &run, &[], &[], "hash-again", &[]).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ResourceAlreadyExists, "a trial index is given once");
    assert!(store.get_job("tune_again").await.is_err(), "nothing of the refused trial is kept");

    let trials = store.sweep_trials("tune").await.unwrap();
    let summary: Vec<(&str, Option<i64>, Option<&str>, JobKind)> =
        trials.iter().map(|job| (job.name.as_str(), job.trial, job.parent.as_deref(), job.kind)).collect();
    assert_eq!(
        summary,
        vec![("tune_0", Some(0), Some("tune"), JobKind::Command), ("tune_1", Some(1), Some("tune"), JobKind::Command)]
    );
    assert_eq!(store.get_job("tune").await.unwrap().kind, JobKind::Sweep);
    let run = store.get_run(&RunId::parse("tune_1").unwrap()).await.unwrap();
    assert_eq!(run.params, vec![Param { key: "lr".into(), value: "0.1".into() }]);
    let query = JobQuery {
        workspace: &workspace,
        status: None,
        experiment_name: None,
        compute: None,
        parent: Some("tune"),
        archived: None,
        limit: 10,
    };
    let listed: Vec<String> = store.list_jobs(&query).await.unwrap().into_iter().map(|job| job.name).collect();
    assert_eq!(listed, vec!["tune_0", "tune_1"], "newest first");
}

/// The scheduler starting a queued job while a user cancels it: whichever comes second sees
/// the first's status, so a canceled job is never started (it stays canceled).
async fn a_cancel_and_a_start_of_one_queued_job_take_turns(store: &SqlStore) {
    let workspace = with_workspace(store, "races").await;
    let to = |status, at| JobTransition { status, at, message: None, exit_code: None, error: None };
    for index in 0..24 {
        let name = format!("race_{index}");
        let (job, run) = new_job(&workspace, &name, 2);
        store.create_job(&job, &run, &[], &[], &format!("hash-{name}"), &[]).await.unwrap();
        let cancel = to(JobStatus::Canceled, 10);
        let start = to(JobStatus::Preparing, 10);
        let (canceled, started) =
            tokio::join!(store.transition_job(&name, &cancel), store.transition_job(&name, &start));
        let (canceled, started) = (canceled.unwrap(), started.unwrap());
        assert!(canceled.is_some(), "a queued or preparing job may always be canceled");
        let job = store.get_job(&name).await.unwrap();
        assert_eq!(job.status, JobStatus::Canceled, "{name}: started after its cancel: {started:?}");
        let statuses: Vec<JobStatus> = job.events.iter().map(|event| event.status).collect();
        assert_eq!(statuses.last(), Some(&JobStatus::Canceled), "{name}: {statuses:?}");
    }
}

async fn jobs_move_forward_keep_their_logs_and_queue_in_order(store: &SqlStore) {
    let workspace = with_workspace(store, "jobs").await;
    for (name, priority) in [("first_job", 2), ("second_job", 2), ("urgent_job", 3)] {
        let (job, run) = new_job(&workspace, name, priority);
        let created =
            store.create_job(&job, &run, &[], &[], &format!("hash-{name}"), &["code:0123/".to_owned()]).await.unwrap();
        assert_eq!(created.events.len(), 2);
        assert_eq!(created.warnings, vec!["a warning"]);
    }
    let (duplicate, run) = new_job(&workspace, "first_job", 2);
    let taken = store.create_job(&duplicate, &run, &[], &[], "hash-other", &[]).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "a job name is taken once, with its run");

    // The queue: priority first, then submission order.
    let queued: Vec<String> =
        store.jobs_in_status(&[JobStatus::Queued]).await.unwrap().into_iter().map(|job| job.name).collect();
    assert_eq!(queued, vec!["urgent_job", "first_job", "second_job"]);

    // Statuses move forward only, and the run follows.
    let to = |status, at| JobTransition { status, at, message: None, exit_code: None, error: None };
    assert!(store.transition_job("first_job", &to(JobStatus::Running, 20)).await.unwrap().is_some());
    assert!(store.transition_job("first_job", &to(JobStatus::Queued, 21)).await.unwrap().is_none());
    assert_eq!(store.get_run_info(&RunId::parse("first_job").unwrap()).await.unwrap().status, RunStatus::Running);
    let failed = JobTransition {
        status: JobStatus::Failed,
        at: 30,
        message: Some("why"),
        exit_code: Some(3),
        error: Some("boom"),
    };
    let ended = store.transition_job("first_job", &failed).await.unwrap().unwrap();
    assert_eq!((ended.status, ended.exit_code, ended.error.as_deref()), (JobStatus::Failed, Some(3), Some("boom")));
    assert_eq!(ended.time_of(JobStatus::Failed), Some(30));
    let run = store.get_run_info(&RunId::parse("first_job").unwrap()).await.unwrap();
    assert_eq!((run.status, run.end_time), (RunStatus::Failed, Some(30)));
    assert!(store.transition_job("first_job", &to(JobStatus::Completed, 40)).await.unwrap().is_none());

    // The runtime's token, GPUs and process.
    store.set_job_runtime("second_job", "runtime-hash", &[1, 3], 50).await.unwrap();
    store.set_job_launched("second_job", 4242, 99).await.unwrap();
    let found = store.find_job_by_token("runtime-hash").await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.assigned_gpus.as_slice(), found.runtime_pid),
        ("second_job", &[1, 3][..], Some(4242))
    );
    assert!(store.snapshot_in_use(&workspace, "0123").await.unwrap());
    assert!(!store.snapshot_in_use(&workspace, "9999").await.unwrap());

    // Logs: pieces at offsets; a piece sent again is stored once, a longer resend adds its end.
    let log = "user_logs/std_log.txt";
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo ").await.unwrap(), 7);
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo ").await.unwrap(), 7);
    assert_eq!(store.append_job_log("second_job", log, 0, "héllo world").await.unwrap(), 12);
    assert_eq!(
        store.append_job_log("second_job", log, 20, "gap").await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
    let whole = store.read_job_log("second_job", log, 0, 1 << 20).await.unwrap();
    assert_eq!((whole.text.as_str(), whole.next_offset), ("héllo world", 12));
    let rest = store.read_job_log("second_job", log, 7, 1 << 20).await.unwrap();
    assert_eq!(rest.text, "world");
    assert_eq!(store.job_log_files("second_job").await.unwrap(), vec![(log.to_owned(), 12)]);

    // Listing: newest first, filters, archive.
    store.set_job_archived("first_job", true).await.unwrap();
    let query = |status, archived| JobQuery {
        workspace: &workspace,
        status,
        experiment_name: None,
        compute: Some("local"),
        parent: None,
        archived,
        limit: 10,
    };
    let names = |jobs: Vec<Job>| jobs.into_iter().map(|job| job.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_jobs(&query(None, Some(false))).await.unwrap()), vec!["urgent_job", "second_job"]);
    assert_eq!(names(store.list_jobs(&query(None, Some(true))).await.unwrap()), vec!["first_job"]);
    assert_eq!(names(store.list_jobs(&query(Some(JobStatus::Failed), None)).await.unwrap()), vec!["first_job"]);
    assert!(store.referenced_locations(&workspace).await.unwrap().contains(&"code:0123/".to_owned()));
}

/// What a restarted server rebuilds a pipeline from: its steps, each kept once under its name;
/// and what reuse finds: the newest completed job that ran with a key, never one that was
/// itself reused.
async fn pipeline_steps_are_kept_once_each_and_found_by_reuse_key(store: &SqlStore) {
    let workspace = with_workspace(store, "pipelines").await;
    let (mut pipeline, run) = new_job(&workspace, "flow", 2);
    pipeline.kind = JobKind::Pipeline;
    let uses = ["component:train:3".to_owned()];
    store.create_job(&pipeline, &run, &[], &[], "hash-flow", &uses).await.unwrap();
    let step = |name: &str, step: &str, key: Option<&str>, reused: Option<&str>| {
        let (mut job, run) = new_job(&workspace, name, 2);
        (job.parent, job.step) = (Some("flow".to_owned()), Some(step.to_owned()));
        job.reuse_key = key.map(str::to_owned);
        job.reused_from = reused.map(str::to_owned);
        (job, run)
    };
    let (prep, run) = step("flow_prep", "prep", Some("key-prep"), None);
    store.create_job(&prep, &run, &[], &[], "hash-prep", &[]).await.unwrap();
    let (again, run) = step("flow_prep_again", "prep", Some("key-prep"), None);
    let refused = store.create_job(&again, &run, &[], &[], "hash-again", &[]).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ResourceAlreadyExists, "a step is made once per pipeline");

    // Only a completed job that ran can stand for a step.
    assert!(store.reusable_job(&workspace, "key-prep").await.unwrap().is_none(), "not completed yet");
    for status in [JobStatus::Preparing, JobStatus::Running, JobStatus::Completed] {
        let transition = JobTransition { status, at: 10, message: None, exit_code: Some(0), error: None };
        store.transition_job("flow_prep", &transition).await.unwrap();
    }
    let found = store.reusable_job(&workspace, "key-prep").await.unwrap().expect("the completed step");
    assert_eq!((found.name.as_str(), found.step.as_deref(), found.reused_from), ("flow_prep", Some("prep"), None));
    let mut reused = step("flow_train", "train", Some("key-train"), Some("older_train")).0;
    reused.status = JobStatus::Completed;
    store.create_job(&reused, &new_job(&workspace, "flow_train", 2).1, &[], &[], "hash-train", &[]).await.unwrap();
    assert!(store.reusable_job(&workspace, "key-train").await.unwrap().is_none(), "a reused step stands for none");
    assert_eq!(store.get_job("flow_train").await.unwrap().reused_from.as_deref(), Some("older_train"));
    let other = with_workspace(store, "pipelines-other").await;
    assert!(store.reusable_job(&other, "key-prep").await.unwrap().is_none(), "workspaces never mix");

    let steps: Vec<(String, Option<String>)> =
        store.sweep_trials("flow").await.unwrap().into_iter().map(|job| (job.name, job.step)).collect();
    assert_eq!(steps.len(), 2);
    assert!(steps.contains(&("flow_prep".to_owned(), Some("prep".to_owned()))));
    assert_eq!(store.get_job("flow").await.unwrap().kind, JobKind::Pipeline);
    assert_eq!(store.jobs_referencing(&workspace, "component:train:3", 10).await.unwrap(), vec!["flow"]);
    assert!(store.jobs_referencing(&workspace, "component:train:4", 10).await.unwrap().is_empty());
}

fn new_deployment(workspace: &WorkspaceName, endpoint: &str, name: &str, generation: i64) -> Deployment {
    Deployment {
        workspace: workspace.clone(),
        endpoint: endpoint.to_owned(),
        name: name.to_owned(),
        description: None,
        tags: BTreeMap::from([("team".to_owned(), "risk".to_owned())]),
        state: ProvisioningState::Creating,
        error: None,
        spec_yaml: format!("name: {name}\n"),
        plan: "{}".to_owned(),
        model_name: Some("credit".to_owned()),
        model_version: Some(generation.to_string()),
        instance_count: 1,
        generation,
        snapshot: Some("0123abcd".to_owned()),
        created_by: "admin".to_owned(),
        created_at: 10 * generation,
        updated_at: 10 * generation,
    }
}

async fn endpoints_and_deployments_round_trip(store: &SqlStore) {
    let workspace = with_workspace(store, "serving").await;
    let endpoint = Endpoint {
        workspace: workspace.clone(),
        name: "credit-ep".to_owned(),
        description: Some("scores".to_owned()),
        tags: BTreeMap::new(),
        auth_mode: AuthMode::Key,
        traffic: BTreeMap::new(),
        mirror_traffic: BTreeMap::new(),
        created_by: "admin".to_owned(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_endpoint(&endpoint, "sealed-1").await.unwrap();
    let other = with_workspace(store, "elsewhere").await;
    let taken =
        store.create_endpoint(&Endpoint { workspace: other.clone(), ..endpoint.clone() }, "x").await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "endpoint names are unique on the server");
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap(), (endpoint.clone(), "sealed-1".to_owned()));

    // Deployments: created, replaced in place (a new generation keeps the creation time).
    let missing = store.put_deployment(&new_deployment(&workspace, "nowhere-ep", "blue", 1)).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    store.put_deployment(&new_deployment(&workspace, "credit-ep", "blue", 1)).await.unwrap();
    store.put_deployment(&new_deployment(&workspace, "credit-ep", "green", 1)).await.unwrap();
    let second = Deployment { created_at: 10, ..new_deployment(&workspace, "credit-ep", "blue", 2) };
    let stored = store.put_deployment(&second).await.unwrap();
    assert_eq!((stored.generation, stored.created_at, stored.updated_at), (2, 10, 20));

    // A rollout's outcome lands only on the generation it was for.
    store.set_deployment_state("credit-ep", "blue", 1, ProvisioningState::Failed, Some("late"), 30).await.unwrap();
    assert_eq!(store.get_deployment("credit-ep", "blue").await.unwrap().state, ProvisioningState::Creating);
    store.set_deployment_state("credit-ep", "blue", 2, ProvisioningState::Succeeded, None, 31).await.unwrap();
    assert_eq!(store.get_deployment("credit-ep", "blue").await.unwrap().state, ProvisioningState::Succeeded);

    // Traffic and keys change; keys only when given.
    let traffic = BTreeMap::from([("blue".to_owned(), 90), ("green".to_owned(), 10)]);
    let updated = Endpoint { traffic: traffic.clone(), updated_at: 40, ..endpoint.clone() };
    store.update_endpoint(&updated, None).await.unwrap();
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap(), (updated.clone(), "sealed-1".to_owned()));
    store.update_endpoint(&updated, Some("sealed-2")).await.unwrap();
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap().1, "sealed-2");

    let names = |deployments: Vec<Deployment>| deployments.into_iter().map(|d| d.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_deployments(Some("credit-ep")).await.unwrap()), ["blue", "green"]);
    assert_eq!(names(store.deployments_of_model(&workspace, "credit").await.unwrap()), ["blue", "green"]);
    assert!(store.deployments_of_model(&other, "credit").await.unwrap().is_empty());

    // A deployment's code snapshot is in use and kept by garbage collection.
    assert!(store.snapshot_in_use(&workspace, "0123abcd").await.unwrap());
    assert!(store.referenced_locations(&workspace).await.unwrap().contains(&"code:0123abcd/".to_owned()));

    store.delete_deployment("credit-ep", "green").await.unwrap();
    assert_eq!(store.delete_deployment("credit-ep", "green").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    store.delete_endpoint("credit-ep").await.unwrap();
    assert!(store.list_deployments(None).await.unwrap().is_empty(), "deleting an endpoint deletes its deployments");
    assert!(!store.snapshot_in_use(&workspace, "0123abcd").await.unwrap());
    assert_eq!(store.get_endpoint("credit-ep").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}
