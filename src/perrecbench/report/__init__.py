"""Reports: the leaderboard (terminal, Markdown, CSV) and the published reference rows."""
