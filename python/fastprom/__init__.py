"""fastprom: a Rust-backed, drop-in replacement for prometheus_client."""
