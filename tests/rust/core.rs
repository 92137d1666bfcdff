//! Integration tests for src/core.
