"""Statistical methods, one module per family, each registering into ``registry``."""
