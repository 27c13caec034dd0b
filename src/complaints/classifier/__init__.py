"""Text classification at run time: jieba tokens, exported TF-IDF weights, no scikit-learn."""
