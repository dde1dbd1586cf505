//! Several servers on one database: exactly one leads at a time, and when it stops another
//! takes over.

use atelier_blob::BlobStore;
use atelier_service::Service;
use atelier_store::SqlStore;
use std::sync::Arc;

#[tokio::test]
async fn one_server_of_several_leads_and_hands_over_when_it_stops() {
    let folder = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", folder.path().join("db").display())).await.unwrap();
    let servers: Vec<Service> = (0..3)
        .map(|_| Service::new(Arc::new(store.clone()), BlobStore::open(folder.path().to_str().unwrap()).unwrap()))
        .collect();
    assert!(servers.iter().all(|server| !server.is_leader()), "no server leads before it asks");
    let mut leads = Vec::new();
    for server in &servers {
        leads.push(server.renew_leadership().await.unwrap());
    }
    assert_eq!(leads, [true, false, false], "the first to ask leads");
    assert_eq!(servers.iter().filter(|server| server.is_leader()).count(), 1);
    // Renewing keeps the lead; the others keep being refused.
    assert!(servers[0].renew_leadership().await.unwrap());
    assert!(!servers[2].renew_leadership().await.unwrap());
    assert_ne!(servers[0].server_id(), servers[1].server_id());

    // The leader stops: the next server to ask leads, at once.
    servers[0].step_down().await;
    assert!(!servers[0].is_leader());
    assert!(servers[1].renew_leadership().await.unwrap());
    assert!(servers[1].is_leader());
    assert!(!servers[0].renew_leadership().await.unwrap(), "the old leader does not take it back");
    assert!(!servers[0].is_leader());
    assert_eq!(servers.iter().filter(|server| server.is_leader()).count(), 1);

    // The leader crashes and comes back with its id (kept in its home): it leads again at once,
    // without waiting for its lease to expire.
    let restarted = Service::new(Arc::new(store.clone()), BlobStore::open(folder.path().to_str().unwrap()).unwrap())
        .with_server_id(servers[1].server_id().to_owned());
    assert!(restarted.renew_leadership().await.unwrap());
    assert!(!servers[2].renew_leadership().await.unwrap());
}
