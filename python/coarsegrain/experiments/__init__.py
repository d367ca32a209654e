"""One module per paper: the configuration and pipeline that reproduce it."""
