"""Task pipelines: declarative workflows over commands, run through the one door."""
