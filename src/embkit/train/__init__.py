"""Training (torch extra): rerankers, word2vec, contrastive fine-tuning with Matryoshka
dimensions, distillation to a static model. Each command ends with an evaluation on
data it did not train on."""
