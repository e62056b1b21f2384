"""Where bytes come from and go to: source discovery, format readers, shards, the workspace."""
