//! The conformance suite, continued: components (and what builds on them), each expanded for
//! SQLite and PostgreSQL by `conformance!`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::component::Component;
use atelier_core::names::WorkspaceName;
use atelier_core::schedule::Schedule;
use atelier_store::{SqlStore, Store};
use std::collections::BTreeMap;

conformance!(
    components_are_immutable_versions_and_the_same_content_is_one_version,
    schedules_keep_where_they_stand_and_a_fire_is_recorded_forward_only,
    of_servers_claiming_one_fire_at_once_exactly_one_wins,
    a_lease_has_one_holder_until_it_expires_or_is_released,
    of_servers_racing_for_a_free_lease_exactly_one_wins,
);

fn component(workspace: &WorkspaceName, name: &str, version: &str, content: &str, at: i64) -> Component {
    Component {
        workspace: workspace.clone(),
        name: name.to_owned(),
        version: version.to_owned(),
        display_name: "Train".to_owned(),
        description: format!("{name} at {at}"),
        tags: BTreeMap::from([("team".to_owned(), "vision".to_owned())]),
        is_deterministic: true,
        definition: format!("{{\"command\":\"{content}\"}}"),
        snapshot: Some("0123456789abcdef0123456789abcdef".to_owned()),
        code_hash: Some("c0de".to_owned()),
        content_hash: format!("hash-of-{content}"),
        archived: false,
        created_by: "alice".to_owned(),
        creation_time: at,
    }
}

async fn components_are_immutable_versions_and_the_same_content_is_one_version(sql: &SqlStore) {
    let workspace = with_workspace(sql, "components").await;
    let store: &dyn Store = sql;

    // Without a version: the next numeric one, unless the content equals the newest version's.
    let first = store.create_component(&component(&workspace, "train", "", "a", 10)).await.unwrap();
    assert_eq!(first.version, "1");
    let again = store.create_component(&component(&workspace, "train", "", "a", 11)).await.unwrap();
    assert_eq!(again, first, "the same content registers no new version");
    assert_eq!(store.create_component(&component(&workspace, "train", "", "b", 12)).await.unwrap().version, "2");
    assert_eq!(
        store.create_component(&component(&workspace, "train", "", "a", 13)).await.unwrap().version,
        "3",
        "content equal to an older version but not the newest is a new version"
    );

    // A given version: the same content is that version, other content is refused.
    let named = component(&workspace, "train", "2024.06", "c", 14);
    assert_eq!(store.create_component(&named).await.unwrap(), named);
    assert_eq!(store.create_component(&component(&workspace, "train", "2024.06", "c", 15)).await.unwrap(), named);
    let taken = store.create_component(&component(&workspace, "train", "2", "z", 16)).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists, "a version is never replaced");
    assert!(taken.message.contains("train"), "{}", taken.message);
    assert_eq!(
        store.get_component(&workspace, "train", "2").await.unwrap(),
        component(&workspace, "train", "2", "b", 12)
    );

    // Every field round-trips, a component without code among them.
    let mut plain = component(&workspace, "prep", "", "p", 17);
    (plain.snapshot, plain.code_hash, plain.is_deterministic) = (None, None, false);
    let stored = store.create_component(&plain).await.unwrap();
    assert_eq!(stored, Component { version: "1".to_owned(), ..plain });
    assert_eq!(store.get_component(&workspace, "prep", "1").await.unwrap(), stored);

    // A snapshot a component keeps is in use, and garbage collection keeps its files.
    assert!(store.snapshot_in_use(&workspace, "0123456789abcdef0123456789abcdef").await.unwrap());
    let kept = store.referenced_locations(&workspace).await.unwrap();
    assert!(kept.contains(&"code:0123456789abcdef0123456789abcdef/".to_owned()), "{kept:?}");

    // Listing and archiving, as every versioned asset.
    let names = |list: Vec<Component>| list.into_iter().map(|c| (c.name, c.version)).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_components(&workspace, None, false).await.unwrap()),
        vec![("prep".to_owned(), "1".to_owned()), ("train".to_owned(), "2024.06".to_owned())]
    );
    store.set_component_archived(&workspace, "train", "2024.06", true).await.unwrap();
    assert_eq!(store.list_components(&workspace, Some("train"), false).await.unwrap()[0].version, "3");
    assert_eq!(store.list_components(&workspace, Some("train"), true).await.unwrap().len(), 4);
    let missing = store.get_component(&workspace, "train", "9").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    let missing = store.set_component_archived(&workspace, "nope", "1", true).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert!(store.jobs_referencing(&workspace, "component:train:1", 10).await.unwrap().is_empty());
}

fn schedule(workspace: &WorkspaceName, name: &str, next_fire: Option<i64>) -> Schedule {
    Schedule {
        workspace: workspace.clone(),
        name: name.to_owned(),
        display_name: Some("Nightly".to_owned()),
        description: None,
        tags: BTreeMap::from([("team".to_owned(), "vision".to_owned())]),
        yaml: "name: x\n".to_owned(),
        submission: "{\"yaml\":\"command: echo\"}".to_owned(),
        enabled: true,
        last_fire: None,
        next_fire,
        last_error: None,
        created_by: "alice".to_owned(),
        creation_time: 5,
    }
}

async fn schedules_keep_where_they_stand_and_a_fire_is_recorded_forward_only(sql: &SqlStore) {
    let workspace = with_workspace(sql, "schedules").await;
    let other = with_workspace(sql, "schedules-other").await;
    let store: &dyn Store = sql;
    store.create_schedule(&schedule(&workspace, "nightly", Some(100)), &["code:abc/".to_owned()]).await.unwrap();
    store.create_schedule(&schedule(&workspace, "hourly", Some(300)), &[]).await.unwrap();
    store.create_schedule(&schedule(&other, "nightly", Some(50)), &[]).await.unwrap();
    let taken = store.create_schedule(&schedule(&workspace, "nightly", None), &[]).await.unwrap_err();
    assert_eq!(taken.code, ErrorCode::ResourceAlreadyExists);
    assert_eq!(store.get_schedule(&workspace, "nightly").await.unwrap(), schedule(&workspace, "nightly", Some(100)));
    let names = |list: Vec<Schedule>| list.into_iter().map(|s| (s.workspace.to_string(), s.name)).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_schedules(&workspace).await.unwrap()),
        vec![("schedules".to_owned(), "hourly".to_owned()), ("schedules".to_owned(), "nightly".to_owned())]
    );

    // Due: enabled, with a next fire time at or before now, across workspaces, soonest first.
    assert_eq!(
        names(store.due_schedules(100).await.unwrap()),
        vec![("schedules-other".to_owned(), "nightly".to_owned()), ("schedules".to_owned(), "nightly".to_owned())]
    );
    store.set_schedule_enabled(&other, "nightly", false, None).await.unwrap();
    assert_eq!(names(store.due_schedules(100).await.unwrap()), vec![("schedules".to_owned(), "nightly".to_owned())]);

    // The lease on a fire: one server takes it, another cannot while it is live, an expired one
    // can be taken over; a fire that is not the next one cannot be taken at all.
    assert!(store.claim_schedule_fire(&workspace, "nightly", 100, "server-a", 100, 160).await.unwrap());
    assert!(!store.claim_schedule_fire(&workspace, "nightly", 100, "server-b", 110, 170).await.unwrap());
    assert!(store.claim_schedule_fire(&workspace, "nightly", 100, "server-a", 120, 180).await.unwrap());
    assert!(store.claim_schedule_fire(&workspace, "nightly", 100, "server-b", 181, 240).await.unwrap());
    assert!(!store.claim_schedule_fire(&workspace, "nightly", 100, "server-a", 190, 250).await.unwrap());
    assert!(!store.claim_schedule_fire(&workspace, "nightly", 99, "server-c", 500, 560).await.unwrap());
    assert!(store.referenced_locations(&workspace).await.unwrap().contains(&"code:abc/".to_owned()));

    // A fire moves the schedule on and releases the lease; an older fire recorded late changes
    // nothing.
    store.record_schedule_fire(&workspace, "nightly", 100, Some(200), Some("job file gone")).await.unwrap();
    store.record_schedule_fire(&workspace, "nightly", 90, Some(95), None).await.unwrap();
    assert_eq!(store.get_schedule(&workspace, "nightly").await.unwrap().last_error.as_deref(), Some("job file gone"));
    assert!(store.claim_schedule_fire(&workspace, "nightly", 200, "server-a", 200, 260).await.unwrap());
    let nightly = store.get_schedule(&workspace, "nightly").await.unwrap();
    assert_eq!((nightly.last_fire, nightly.next_fire), (Some(100), Some(200)));
    assert!(store.due_schedules(150).await.unwrap().is_empty());
    // An ended trigger has no next fire and is never due.
    store.record_schedule_fire(&workspace, "nightly", 200, None, None).await.unwrap();
    assert!(store.due_schedules(i64::MAX).await.unwrap().iter().all(|s| s.name != "nightly"));

    let mut updated = store.get_schedule(&workspace, "hourly").await.unwrap();
    updated.description = Some("every hour".to_owned());
    updated.next_fire = Some(400);
    store.update_schedule(&updated, &[]).await.unwrap();
    assert_eq!(store.get_schedule(&workspace, "hourly").await.unwrap(), updated);
    store.delete_schedule(&workspace, "hourly").await.unwrap();
    store.delete_schedule(&workspace, "nightly").await.unwrap();
    assert!(!store.referenced_locations(&workspace).await.unwrap().contains(&"code:abc/".to_owned()));
    let missing = store.get_schedule(&workspace, "hourly").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.delete_schedule(&workspace, "hourly").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(
        store.record_schedule_fire(&workspace, "hourly", 1, None, None).await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

async fn of_servers_claiming_one_fire_at_once_exactly_one_wins(sql: &SqlStore) {
    let workspace = with_workspace(sql, "schedules-race").await;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(sql.clone());
    for round in 0..5i64 {
        let name = format!("race{round}");
        store.create_schedule(&schedule(&workspace, &name, Some(1_000)), &[]).await.unwrap();
        let mut tasks = Vec::new();
        for server in 0..8 {
            let (store, workspace, name) = (store.clone(), workspace.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                store.claim_schedule_fire(&workspace, &name, 1_000, &format!("server-{server}"), 1_000, 61_000).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "round {round}: {won} servers took one fire");
    }
}

async fn a_lease_has_one_holder_until_it_expires_or_is_released(sql: &SqlStore) {
    let store: &dyn Store = sql;
    assert_eq!(store.lease_holder("leader", 0).await.unwrap(), None);
    assert!(store.take_lease("leader", "server-a", 100, 200).await.unwrap());
    assert!(!store.take_lease("leader", "server-b", 150, 250).await.unwrap(), "a live lease is not taken");
    assert_eq!(store.lease_holder("leader", 150).await.unwrap().as_deref(), Some("server-a"));
    assert!(store.take_lease("leader", "server-a", 190, 290).await.unwrap(), "the holder renews");
    assert!(!store.take_lease("leader", "server-b", 250, 350).await.unwrap(), "renewed, so still live");
    assert_eq!(store.lease_holder("leader", 291).await.unwrap(), None, "expired");
    assert!(store.take_lease("leader", "server-b", 291, 391).await.unwrap(), "an expired lease is taken");
    assert!(!store.take_lease("leader", "server-a", 300, 400).await.unwrap());
    // Another lease is another name; releasing is only the holder's.
    assert!(store.take_lease("other", "server-a", 300, 400).await.unwrap());
    store.release_lease("leader", "server-a").await.unwrap();
    assert_eq!(store.lease_holder("leader", 300).await.unwrap().as_deref(), Some("server-b"));
    store.release_lease("leader", "server-b").await.unwrap();
    assert_eq!(store.lease_holder("leader", 300).await.unwrap(), None);
    assert!(store.take_lease("leader", "server-a", 301, 401).await.unwrap(), "released, so free at once");
}

async fn of_servers_racing_for_a_free_lease_exactly_one_wins(sql: &SqlStore) {
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(sql.clone());
    for round in 0..5i64 {
        let name = format!("race{round}");
        let mut tasks = Vec::new();
        for server in 0..8 {
            let (store, name) = (store.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                store.take_lease(&name, &format!("server-{server}"), 1_000, 11_000).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "round {round}: {won} servers hold one lease");
    }
}
