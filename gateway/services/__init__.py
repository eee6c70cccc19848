"""The gateway's use cases, apart from HTTP: routes parse a request, call one of these, and
shape the answer. Services speak the domain (users, sources, Structs of `models`) and raise
domain errors; they never see a Litestar request."""
