"""Uses of representations: few-label classification now; search and active learning build here later."""
