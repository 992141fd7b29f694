"""`pirender serve`: an HTTP API (FastAPI) for reenact / edit / speak / dub jobs: the app (`app`), its job queue and worker processes (`queue`), the command (`cli`)."""
