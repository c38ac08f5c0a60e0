//! The real `nextgenrdp` binary: its commands against a test database.
