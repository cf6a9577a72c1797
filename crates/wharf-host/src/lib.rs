//! What this machine says about its ports, read from `/proc`: whether a port is free
//! or answers, who holds a taken one, and where a process really listens. The CLI,
//! the runtime's recipes and the daemon all ask here.

pub mod ports;
