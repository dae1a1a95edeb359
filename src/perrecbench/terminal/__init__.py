"""What the commands print on a terminal: progress bars and plain progress lines, the
end-of-run summaries, the leaderboard and analyses as text tables, and the results
printed in several formats (table, Markdown, JSON, CSV). Only the command line uses it;
the HTML page (`report`) and the stages below know nothing of terminals."""
