//! Through the built binary: the Runtime API emulator and stub, CloudFormation as the client, the attacker's
//! view, deadlines and the watchdog, notifications on a real receiver.

mod authorized;
mod deadline;
mod emulator;
mod hostile;
mod notify;
mod stacks;
mod watchdog;
