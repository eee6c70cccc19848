"""Provider authorization, as protocol logic apart from framework glue: OAuth2 with PKCE and
OpenID Connect ID-token validation (`oauth`), and keeping tokens fresh (`tokens`). The
connection use cases over them are in `gateway.services.connections`; the caller's own API
key is resolved in `gateway.dependencies`."""
