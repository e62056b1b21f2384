"""The servers Forge runs as child processes: `forge ui` (ui.py) and `forge server` (team.py),
both started, watched and stopped by supervise.py."""
