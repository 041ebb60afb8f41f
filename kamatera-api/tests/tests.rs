//! Integration tests of the Kamatera API client against wiremock.
