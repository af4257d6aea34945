"""The TWS API wire protocol as the IB Gateway simulator speaks it.

Split by job, like the client library it talks to: `framing` moves fields in and out of frames,
`encoders` builds server->client messages (version-gated), `requests` parses client->server
messages, `session` holds one client's state, `faults` the injectable failures, `errors` the IB
codes the simulator uses.
"""
