//! The conformance suite, continued: components (and what builds on them), each expanded for
//! SQLite and PostgreSQL by `conformance!`.

use crate::common::*;
use atelier_core::ErrorCode;
use atelier_core::component::Component;
use atelier_core::names::WorkspaceName;
use atelier_store::{SqlStore, Store};
use std::collections::BTreeMap;

conformance!(components_are_immutable_versions_and_the_same_content_is_one_version,);

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
