//! The one integration-test binary: real server, real sockets.

mod harness;
mod dns_behaviour;
mod selection;
mod fuzz_replay;
mod systemd;
mod zone_check;
mod scenario_check;
mod truncation;
mod binary;
mod geo;
mod ecs;
mod tcp;
mod request_handler;
mod standin;
mod probe;
mod admin;
mod steering;
mod operations;
mod cli;
mod event;
mod metrics;
mod reload;
mod history;
mod dashboard;
mod report;
mod simulate;
