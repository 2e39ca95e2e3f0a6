//! The harness itself: servers it starts are its own, even when tests run side by side on free ports.

use test_support::*;

/// The harness tells its own server from another test's that took the same port meanwhile.
#[test]
fn a_server_on_a_free_port_is_known_as_ours_and_another_listener_as_theirs() {
    let moto = Moto::start();
    assert_eq!(listener_owner(moto.port, moto.pid()), PortOwner::Ours);
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(listener_owner(other.local_addr().unwrap().port(), moto.pid()), PortOwner::Theirs);
}

/// Each test's moto (forked warm by the fork server under `scripts/test.sh`, or started here) is its own: what one
/// holds, another does not, each has the AWS managed policies, and a dropped one stops answering.
#[tokio::test]
async fn every_moto_is_independent_loaded_and_stopped_when_dropped() {
    let (a, b) = (Moto::start(), Moto::start());
    assert_ne!(a.port, b.port);
    let trust = r#"{"Version":"2012-10-17","Statement":[]}"#;
    a.client().create_role().role_name("only-in-a").assume_role_policy_document(trust).send().await.unwrap();
    assert!(a.client().get_role().role_name("only-in-a").send().await.is_ok());
    assert!(b.client().get_role().role_name("only-in-a").send().await.is_err(), "b sees a's role");
    let worker = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";
    assert!(b.client().get_policy().policy_arn(worker).send().await.is_ok(), "managed policies loaded");
    let (port, pid) = (a.port, a.pid());
    drop(a);
    let gone = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        assert!(gone.elapsed() < std::time::Duration::from_secs(5), "moto {pid} still runs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Another test's server may take the freed port at once: what matters is that this one no longer holds it.
    assert_ne!(listener_owner(port, pid), PortOwner::Ours, "moto {pid} still listens on {port}");
    if std::env::var_os("MOTO_FORKSERVER").is_some() {
        eprintln!("servers came from the fork server");
    }
}
