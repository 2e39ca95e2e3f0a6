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
