"""Documents in folders: what a file's bytes mean (parse), how its text is cut (chunk), what an agent sees (view)."""
