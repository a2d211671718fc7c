"""The Assistants v2 protocol: assistants, threads, messages, runs and run steps."""
