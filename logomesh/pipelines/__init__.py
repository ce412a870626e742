"""Task pipelines: declarative workflows over commands, run through Engine.execute."""
