//! The workspace's integration tests (in `tests/`): the functions and the library against a
//! moto server, SDK failure paths with aws-smithy-mocks, ordering, fuzz corpus regressions.
//! This crate holds no code of its own.
