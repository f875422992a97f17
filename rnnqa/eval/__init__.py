"""Answer quality: accuracy, confident accuracy, coverage, out-of-domain rejection, reliability."""
