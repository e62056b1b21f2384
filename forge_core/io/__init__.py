"""Where bytes come from and go to: source discovery, shards, the workspace (the format readers are in readers/)."""
