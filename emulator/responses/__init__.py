"""The Responses and Conversations protocols: responses, their streams and conversations."""
