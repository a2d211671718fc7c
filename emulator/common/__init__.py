"""What both protocols share: the server and app, settings, errors, faults, SSE, paging,
request parsing, state, the scripted-model vocabulary and wire basics."""
