"""Training (torch extra): rerankers now; word2vec, contrastive fine-tuning and
distillation later."""
