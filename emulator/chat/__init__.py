"""The Chat Completions API (`POST /chat/completions`)."""
