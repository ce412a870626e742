"""Natural-language commands: free text in, a proposal for the one door out."""
